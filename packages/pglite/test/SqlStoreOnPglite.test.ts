// The SQL store's own tests (packages/sql/test/SqlOutboxStore.test.ts), on the
// embedded database. Not here, because they need several server connections:
// - a relay whose connections are terminated with pg_terminate_backend (PGlite
//   has one in-process session, nothing to terminate);
// - advisory-lock hand-over between relays (on one session advisory locks are
//   re-entrant, so every relay would be leader: use Leadership.always on PGlite).
import { Outbox, OutboxStore, Relay, Sender, Topic } from "@effect-outbox/core"
import { Drain, RecordingSender } from "@effect-outbox/core/testing"
import { PgliteClient } from "@effect-outbox/pglite"
import { Inbox, Migrations, Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import { SqlClient } from "@effect/sql"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, ManagedRuntime, Option, Ref, Schema, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

// One PGlite instance for the file (starting one takes seconds); a schema per test.
const database = ManagedRuntime.make(PgliteClient.layer())
afterAll(() => database.dispose())
const Shared = Layer.effectContext(Effect.map(database.runtimeEffect, (runtime) => runtime.context))

let schemas = 0
const migratedSchema = Effect.gen(function*() {
  const schema = `store_${++schemas}`
  yield* Effect.addFinalizer(() =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
  )
  yield* Migrations.run({ schema })
  return schema
})

/** The store on `schema`, with PGlite's LISTEN for wake-ups. */
const storeOn = (schema: string) =>
  SqlOutboxStore.layer({ schema, migrate: false }).pipe(
    Layer.provide(Layer.unwrapEffect(Effect.map(PgliteClient.PgliteClient, (client) => Notifications.layerFrom(client.listen))))
  )

const relay = (schema: string, sender: Sender.Sender["Type"], options: Relay.Options = {}) =>
  Effect.forkScoped(
    Effect.scoped(Relay.run(options)).pipe(Effect.provideService(Sender.Sender, sender), Effect.provide(storeOn(schema)))
  )

const sentIds = (recorder: RecordingSender.RecordingSender["Type"]) =>
  Effect.map(recorder.attempts, (all) => all.filter((a) => a.outcome === "sent").map((a) => a.message.id))

const countRows = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(table)}`, (rows) => Number(rows[0]?.n)))

const seed = (schema: string, count: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO ${sql(`${schema}.outbox`)} (topic, payload)
        SELECT 'order.created', jsonb_build_object('n', g) FROM generate_series(1, ${count}::int) g`)

const drained = (schema: string) =>
  Drain.untilDrained({ timeout: "30 seconds" }).pipe(Effect.provide(storeOn(schema)))

const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, seconds = 20) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds * 20; i++) {
      if (yield* check) return
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`timed out after ${seconds} s waiting for ${what}`)
  })

const onPglite = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | PgliteClient.PgliteClient | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(Shared))

describe("SqlOutboxStore on PGlite", () => {
  it.live("a transaction that publishes and then fails leaves no message; the relay sends nothing", () =>
    onPglite(Effect.gen(function*() {
      const schema = yield* migratedSchema
      const sql = yield* SqlClient.SqlClient
      const env = Layer.mergeAll(Outbox.layer, RecordingSender.layer()).pipe(Layer.provideMerge(storeOn(schema)))
      yield* Effect.gen(function*() {
        const failure = yield* sql.withTransaction(
          Effect.zipRight(Outbox.publish(OrderCreated, { n: 1 }), Effect.fail("payment declined"))
        ).pipe(Effect.flip)
        expect(failure).toBe("payment declined")
        expect(yield* countRows(`${schema}.outbox`)).toBe(0)
        expect((yield* Relay.drainOnce()).claimed).toBe(0)
        const committed = yield* sql.withTransaction(Outbox.publish(OrderCreated, { n: 2 }))
        expect((yield* Relay.drainOnce()).sent).toBe(1)
        expect(yield* RecordingSender.sentIds).toEqual([committed])
      }).pipe(Effect.provide(env))
    })))

  it.live("three relays in one process drain 5,000 messages: every one sent, none twice, none left", () =>
    onPglite(Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 5_000)
      const recorder = yield* RecordingSender.make()
      for (let i = 0; i < 3; i++) yield* relay(schema, recorder.sender, { batchSize: 100 })
      yield* drained(schema)
      const sent = yield* sentIds(recorder)
      expect(sent.length).toBe(5_000)
      expect(new Set(sent).size).toBe(5_000)
    })), 60_000)

  it.live("a relay stopped mid-batch without completing: its messages are redelivered after the lease", () =>
    onPglite(Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 20)
      const stuck = yield* RecordingSender.make(RecordingSender.hang())
      const first = yield* relay(schema, stuck.sender, { leaseFor: "1 second", sendTimeout: "1 hour", shutdownTimeout: "10 millis" })
      yield* eventually("the first relay to be sending", Effect.map(stuck.attempts, (a) => a.length === 20))
      yield* Fiber.interrupt(first)
      const healthy = yield* RecordingSender.make()
      yield* relay(schema, healthy.sender, { pollInterval: "100 millis" })
      yield* drained(schema)
      const redelivered = (yield* healthy.attempts).map((a) => a.message)
      expect(redelivered.length).toBe(20)
      expect(redelivered.every((m) => m.attempts === 1 && m.lostClaims === 1)).toBe(true)
    })))

  it.live("a committed publish wakes an idle relay through LISTEN, long before its poll interval", () =>
    onPglite(Effect.gen(function*() {
      const schema = yield* migratedSchema
      const recorder = yield* RecordingSender.make()
      yield* relay(schema, recorder.sender, { pollInterval: "1 hour" })
      const sql = yield* SqlClient.SqlClient
      // LISTEN is asynchronous: wait until the session listens on the store's channel.
      yield* eventually(
        "the relay to listen",
        Effect.map(sql<{ channel: string }>`SELECT pg_listening_channels() AS channel`, (rows) =>
          rows.some((row) => row.channel === `${schema}.outbox`))
      )
      const id = yield* sql.withTransaction(Outbox.publish(OrderCreated, { n: 1 })).pipe(
        Effect.provide(Layer.provide(Outbox.layer, storeOn(schema)))
      )
      yield* eventually("the message to be delivered", Effect.map(sentIds(recorder), (ids) => ids.includes(id)), 5)
    })))

  it.live("fencing: a relay paused past its lease settles nothing; the new holder's send counts", () =>
    onPglite(Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 10)
      const gate = yield* Deferred.make<void>()
      const paused = yield* RecordingSender.make()
      const pausedSender = Sender.Sender.of({ send: (batch) => Effect.zipRight(Deferred.await(gate), paused.sender.send(batch)) })
      const pausedStore = Layer.effect(
        OutboxStore.OutboxStore,
        Effect.map(OutboxStore.OutboxStore, (store) => ({ ...store, renewLease: () => Effect.succeed([]) }))
      ).pipe(Layer.provide(storeOn(schema)))
      const stale = yield* Relay.drainOnce({ leaseFor: "500 millis", sendTimeout: "1 minute" }).pipe(
        Effect.provideService(Sender.Sender, pausedSender),
        Effect.provide(pausedStore),
        Effect.fork
      )
      yield* eventually(
        "the paused relay to hold the batch",
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.map(
            sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(`${schema}.outbox`)} WHERE locked_by IS NOT NULL`,
            (rows) => Number(rows[0]?.n) === 10
          ))
      )
      const holder = yield* RecordingSender.make()
      yield* relay(schema, holder.sender, { pollInterval: "50 millis" })
      yield* eventually("the holder to deliver all", Effect.map(sentIds(holder), (ids) => ids.length === 10))
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(stale)).toMatchObject({ claimed: 10, sent: 0, fenced: 10 })
      expect(yield* countRows(`${schema}.outbox`)).toBe(0)
      expect(yield* countRows(`${schema}.outbox_dead_letters`)).toBe(0)
    })))

  it.live("inbox: the same message id processed twice runs the effect once", () =>
    onPglite(Effect.gen(function*() {
      const schema = yield* migratedSchema
      const runs = yield* Ref.make(0)
      const work = Ref.updateAndGet(runs, (n) => n + 1)
      expect(yield* Inbox.once("m-1", work, { schema })).toEqual(Option.some(1))
      expect(yield* Inbox.once("m-1", work, { schema })).toEqual(Option.none())
      expect(yield* Ref.get(runs)).toBe(1)
    })))

  it.live("migrations: a second run, and concurrent runs, apply nothing more", () =>
    onPglite(Effect.gen(function*() {
      const schema = yield* migratedSchema
      const again = yield* Effect.all([Migrations.run({ schema }), Migrations.run({ schema })], { concurrency: "unbounded" })
      expect(again).toEqual([[], []])
    })))
})

describe("SqlOutboxStore on PGlite with a data directory", () => {
  it.live("survives a restart: publish, close, reopen, drain", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "outbox-pglite-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const store = SqlOutboxStore.layer({}).pipe(Layer.provideMerge(PgliteClient.layer({ dataDir })))
      const ids = yield* Outbox.publishAll([1, 2, 3].map((n) => ({ topic: OrderCreated, payload: { n } }))).pipe(
        Effect.provide(Layer.provide(Outbox.layer, store))
      )
      // The first instance is closed (its scope ended); a new one opens the same directory.
      const recorder = yield* RecordingSender.make()
      const summary = yield* Relay.drainOnce().pipe(
        Effect.provideService(Sender.Sender, recorder.sender),
        Effect.provide(store)
      )
      expect(summary.sent).toBe(3)
      expect(yield* sentIds(recorder)).toEqual(ids)
    }).pipe(Effect.scoped), 60_000)
})

