#!/usr/bin/env node
/**
 * The `outbox` executable. SIGTERM/SIGINT interrupt the program: the relay
 * stops claiming, finishes in-flight batches, pools close, exit code 0. A
 * second signal exits at once.
 *
 * Exit codes: 0 done; 1 failed (the database is unreachable, the demo's check
 * failed, the relay's drain loop ended while running); 2 bad usage or
 * settings, with one line naming the setting.
 *
 * @since 0.1.0
 */
import { ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { cli } from "./Cli.js"

let signals = 0
const onSignal = () => {
  // The first signal is the graceful one (NodeRuntime interrupts the program).
  if (++signals > 1) process.exit(130)
  process.stderr.write("outbox: stopping; finishing in-flight batches (signal again to exit at once)\n")
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

const exitWith = (code: number, line: string) =>
  Console.error(`outbox: ${line}`).pipe(Effect.zipRight(Effect.sync(() => {
    process.exitCode = code
  })))

const main = cli(process.argv).pipe(
  Effect.catchIf(ValidationError.isValidationError, () =>
    // @effect/cli has printed the problem and the usage already.
    Effect.sync(() => {
      process.exitCode = 2
    })),
  Effect.catchTags({
    InvalidSetting: (error) => exitWith(2, error.message),
    InvalidFilter: (error) => exitWith(2, error.message),
    RelayConfigError: (error) => exitWith(2, error.message),
    StartupError: (error) => exitWith(1, error.message),
    OutboxStoreError: (error) => exitWith(1, error.message),
    DemoError: (error) => exitWith(1, error.message),
    DemoFailed: (error) => exitWith(1, error.message),
    RelayStopped: (error) => exitWith(1, error.message)
  }),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(main)
