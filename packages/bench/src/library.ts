/**
 * The library under test: the relay and `Outbox.publish` on the SQL store,
 * over `@effect/sql-pg` (or PGlite), with a sender that does nothing.
 */
import { type Outbox, Relay, Sender, Topic } from "@effect-outbox/core"
import { Migrations, Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Deferred, Effect, Layer, Logger, LogLevel, Redacted, Ref, Schema } from "effect"
import { databaseUrl, now } from "./harness.js"

export const OrderCreated = Topic.make(
  "order.created",
  Schema.Struct({ orderId: Schema.String, customer: Schema.String, total: Schema.Number, note: Schema.String })
)

export const pgLayer = (maxConnections = 4) =>
  PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections, applicationName: "outbox-bench" })

/** A sender that delivers instantly: the benchmark measures the outbox, not a receiver. */
export const noopSender = Sender.Sender.of({
  send: (batch) => Effect.succeed(batch.map((message) => Sender.SendResult.Sent({ id: message.id })))
})

/** Creates the outbox tables in `schema`. */
export const migrate = (schema: string) => Migrations.run({ schema }).pipe(Effect.provide(pgLayer(1)), Effect.scoped)

/**
 * Drains `total` seeded messages with `relays` relays (each on its own pool, as
 * separate processes would be); msgs/s from the relays' start to the last ack.
 * `ordered` and `sender` pass through to the relays (unordered, `noopSender` by default).
 */
export const relayDrain = (
  schema: string,
  options: {
    readonly batchSize: number
    readonly relays: number
    readonly total: number
    readonly ordered?: boolean | undefined
    readonly sender?: Sender.Sender["Type"] | undefined
    readonly claimMode?: Relay.ClaimMode | undefined
  },
  database: Layer.Layer<SqlClient.SqlClient, unknown> = pgLayer(2)
) =>
  Effect.gen(function*() {
    const sent = yield* Ref.make(0)
    const done = yield* Deferred.make<void>()
    const observer = Relay.RelayObserver.of({
      onBatch: (summary) =>
        Ref.updateAndGet(sent, (n) => n + summary.sent).pipe(
          Effect.flatMap((n) => (n >= options.total ? Deferred.succeed(done, undefined) : Effect.void))
        )
    })
    const stores = yield* Effect.forEach(Array.from({ length: options.relays }), () =>
      Layer.build(SqlOutboxStore.layer({ schema, migrate: false }).pipe(Layer.provide(database))))
    const started = now()
    for (const store of stores) {
      yield* Effect.forkScoped(
        Relay.run({
          batchSize: options.batchSize,
          pollInterval: "50 millis",
          ordered: options.ordered ?? false,
          claimMode: options.claimMode ?? "lease"
        }).pipe(
          Effect.orDie,
          Effect.provide(store),
          Effect.provideService(Sender.Sender, options.sender ?? noopSender),
          Effect.provideService(Relay.RelayObserver, observer)
        )
      )
    }
    yield* Deferred.await(done)
    return options.total / ((now() - started) / 1000)
  }).pipe(Effect.scoped, quiet)

/** Keeps the relays' info logs out of the report. */
export const quiet = Logger.withMinimumLogLevel(LogLevel.Warning)

/** Publishes one order per transaction, `count` of them over `fibers` fibers; transactions per second. */
export const publishRate = (
  count: number,
  fibers: number,
  write: (n: number) => Effect.Effect<unknown, unknown, SqlClient.SqlClient | Outbox.Outbox>
) =>
  Effect.gen(function*() {
    const started = now()
    yield* Effect.forEach(
      Array.from({ length: fibers }, (_, fiber) => fiber),
      (fiber) =>
        Effect.forEach(
          Array.from({ length: Math.ceil(count / fibers) }, (_, i) => i * fibers + fiber),
          (n) => write(n),
          { discard: true }
        ),
      { concurrency: "unbounded", discard: true }
    )
    return count / ((now() - started) / 1000)
  })

/** The order payload for message `n` (≈200 bytes as JSON). */
export const order = (n: number) => ({
  orderId: `order-${n}`,
  customer: `customer-${n % 1000}`,
  total: n * 1.5,
  note: "x".repeat(120)
})

/** The store layer with push wake-ups, for latency runs. */
export const storeWithNotify = (schema: string) =>
  SqlOutboxStore.layer({ schema, migrate: false }).pipe(Layer.provide(Notifications.layerPg))
