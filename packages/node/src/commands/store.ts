/**
 * The store commands: `outbox migrate`, `outbox stats` and `outbox drain`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { OutboxStore, Relay } from "@effect-outbox/core"
import { Migrations, RelayRegistry } from "@effect-outbox/sql"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RunnerConfig from "../RunnerConfig.js"
import * as RunnerLayers from "../RunnerLayers.js"
import { databaseFlags, settingFlags, withLogging, withSettingsFrom } from "./flags.js"
import { withStore } from "./withStore.js"

/**
 * `outbox migrate`: create or update the outbox tables.
 *
 * @category cli
 * @since 0.1.0
 */
export const migrate = Command.make("migrate", { database: databaseFlags }, (flags) =>
  Effect.gen(function*() {
    const database = yield* RunnerConfig.database
    const applied = yield* Migrations.run({ schema: database.schema, tablePrefix: database.tablePrefix }).pipe(
      Effect.provide(RunnerLayers.store(database, { migrate: false }))
    )
    yield* Console.log(
      applied.length === 0
        ? `Outbox tables are up to date (${RunnerLayers.describeDatabase(database)}).`
        : `Applied ${applied.map(([id, name]) => `${id}_${name}`).join(", ")} (${RunnerLayers.describeDatabase(database)}).`
    )
  }).pipe(withSettingsFrom(flags.database))).pipe(
    Command.withDescription("Create or update the outbox tables. Safe to run again, and from several processes at once.")
  )

/**
 * `outbox stats`: pending, in flight, dead, oldest pending age, parked keys, as JSON.
 *
 * @category cli
 * @since 0.1.0
 */
export const stats = Command.make("stats", { database: databaseFlags }, (flags) =>
  Effect.gen(function*() {
    const store = yield* OutboxStore.OutboxStore
    const database = yield* RunnerConfig.database
    const relays = yield* Effect.flatMap(RelayRegistry.RelayRegistry, (registry) => registry.list).pipe(
      Effect.provide(RelayRegistry.layer({ schema: database.schema, tablePrefix: database.tablePrefix }))
    )
    yield* Console.log(JSON.stringify({ ...(yield* store.stats), relays }))
  }).pipe(withStore({ migrate: true }), withSettingsFrom(flags.database))).pipe(
    Command.withDescription("Print pending, in-flight and dead message counts, the oldest pending age, the keys parked behind a dead letter and the relays seen in the last minute, as JSON.")
  )

const drainFlags = settingFlags(
  "sender",
  "webhookConcurrency",
  "logLevel",
  "logFormat",
  "signingSecret",
  "batchSize",
  "lease",
  "sendTimeout",
  "retry",
  "ordered",
  "deadLetteredKey",
  "claimMode"
)

/**
 * `outbox drain [--once]`: deliver what is claimable now, then exit.
 *
 * @category cli
 * @since 0.1.0
 */
export const drain = Command.make(
  "drain",
  {
    database: databaseFlags,
    relay: drainFlags,
    once: Options.boolean("once").pipe(Options.withDescription("Claim, send and settle one batch only."))
  },
  (flags) =>
    Effect.gen(function*() {
      const database = yield* RunnerConfig.database
      const relay = yield* RunnerConfig.relay
      const sender = yield* RunnerConfig.sender
      const options = RunnerLayers.relayOptions(relay, sender.kind)
      const totals = { claimed: 0, sent: 0, retried: 0, deadLettered: 0, fenced: 0 }
      yield* Effect.gen(function*() {
        for (;;) {
          const step = yield* Relay.drainOnce(options)
          for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += step[key]
          if (flags.once || step.claimed === 0) return
        }
      }).pipe(
        Effect.provide(Layer.merge(RunnerLayers.store(database), RunnerLayers.sender(sender, relay)))
      )
      yield* Console.log(JSON.stringify(totals))
    }).pipe(withLogging, withSettingsFrom({ ...flags.database, ...flags.relay }))
).pipe(
  Command.withDescription(
    "Deliver what is claimable now and exit (retries that come due later stay for the next run); --once: a single batch. Prints the totals as JSON."
  )
)
