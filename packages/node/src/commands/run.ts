/**
 * The `outbox run` command.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RelayProgress from "../RelayProgress.js"
import * as RunnerConfig from "../RunnerConfig.js"
import * as RunnerLayers from "../RunnerLayers.js"
import { databaseFlags, settingFlags, withLogging, withSettingsFrom } from "./flags.js"

const relayFlags = settingFlags(
  "sender",
  "signingSecret",
  "webhookConcurrency",
  "batchSize",
  "concurrency",
  "pollInterval",
  "lease",
  "sendTimeout",
  "shutdownTimeout",
  "retry",
  "leadership",
  "ordered",
  "deadLetteredKey",
  "claimMode",
  "maxLostClaims",
  "httpPort",
  "httpHost",
  "adminToken",
  "adminReadToken",
  "stallThreshold",
  "failureThreshold",
  "logLevel",
  "logFormat"
)

/**
 * `outbox run`: drain the outbox into the sender until SIGTERM/SIGINT.
 *
 * @category cli
 * @since 0.1.0
 */
export const run = Command.make("run", { database: databaseFlags, relay: relayFlags }, (flags) =>
  Effect.gen(function*() {
    const database = yield* RunnerConfig.database
    const settings = {
      database,
      relay: yield* RunnerConfig.relay,
      sender: yield* RunnerConfig.sender,
      http: yield* RunnerConfig.http
    }
    yield* Effect.logInfo(`Relaying from the ${RunnerLayers.describeDatabase(database)}`)
    // Up until a signal interrupts it; a drain loop that ends for any other reason ends the process (exit 1).
    return yield* Effect.scoped(
      Effect.flatMap(
        Layer.build(RunnerLayers.runLayer(settings)),
        (running) => Effect.provide(RelayProgress.failWhenStopped, running)
      )
    )
  }).pipe(withLogging, withSettingsFrom({ ...flags.database, ...flags.relay }))).pipe(
    Command.withDescription(
      "Drain the outbox into the sender until SIGTERM/SIGINT (then finish in-flight batches and exit 0). Serves /healthz, /readyz, /metrics and the admin API."
    )
  )
