/**
 * The relay over the SQL store, end to end on a real database: what must hold
 * on Postgres and on PGlite alike (a rolled-back publish sends nothing, three
 * relays drain a backlog exactly once, a stopped relay's batch comes back after
 * its lease, a commit wakes an idle relay, a stale relay is fenced, the inbox
 * runs a message once, migrations run once). Each database runs the suite in
 * one line, with a harness saying how a relay process opens the store there.
 */
import { Outbox, OutboxStore, Relay, Sender, Topic } from "@effect-outbox/core"
import { Drain, RecordingSender } from "@effect-outbox/core/testing"
import { Inbox, Migrations, SqlOutboxStore } from "@effect-outbox/sql"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Option, Random, Ref, Schema, type Scope } from "effect"
import { eventually } from "./Eventually.js"

/** How the suite reaches one database. */
export interface Harness<R> {
  /** The test's own connection: what it migrates, publishes (in its transactions) and checks through. */
  readonly database: Layer.Layer<SqlClient.SqlClient | R, unknown>
  /**
   * The store on `schema` as the relay process `name` opens it: its own pool
   * where the database takes several sessions, and its wake-ups.
   */
  readonly relayStore: (schema: string, name: string) => Layer.Layer<OutboxStore.OutboxStore, unknown, SqlClient.SqlClient | R>
  /** Whether the relay process `name` listens for `schema`'s wake-ups yet (LISTEN is asynchronous). */
  readonly listening: (schema: string, name: string) => Effect.Effect<boolean, unknown, SqlClient.SqlClient | R>
}

const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

/** A fresh, unique schema name. */
const schemaName = Effect.map(Random.nextIntBetween(0, 2 ** 31), (n) => `t_${n.toString(36)}_${process.pid}`)

/** Drops the schema (and everything in it) when the scope closes. */
const dropOnClose = (schema: string) =>
  Effect.addFinalizer(() =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
  )

/** A migrated schema of the test's own, dropped at the end. */
const migratedSchema = Effect.gen(function*() {
  const schema = yield* schemaName
  yield* dropOnClose(schema)
  yield* Migrations.run({ schema })
  return schema
})

/** Inserts `count` ~200-byte messages in one statement. */
const seed = (schema: string, count: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO ${sql(`${schema}.outbox`)} (topic, payload)
        SELECT 'order.created', jsonb_build_object('n', g, 'pad', repeat('x', 180)) FROM generate_series(1, ${count}::int) g`)

const countRows = (table: string, where: "all" | "locked" = "all") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      where === "all"
        ? sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(table)}`
        : sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(table)} WHERE locked_by IS NOT NULL`,
      (rows) => Number(rows[0]?.n)
    ))

const sentIdsOf = (recorder: RecordingSender.RecordingSender["Type"]) =>
  Effect.map(recorder.attempts, (all) => all.filter((a) => a.outcome === "sent").map((a) => a.message.id))

/** The store on the test's own connection, so a publish joins the test's transaction. */
const storeHere = (schema: string) => SqlOutboxStore.layer({ schema, migrate: false })

/** Waits until the schema's outbox has nothing pending or in flight. */
const drained = (schema: string) =>
  Drain.untilDrained({ timeout: Duration.seconds(60) }).pipe(Effect.provide(storeHere(schema)))

/** Registers the scenarios under `describe(name)`, each test in a schema of its own. */
export const run = <R>(name: string, harness: Harness<R>): void => {
  const test = (
    title: string,
    body: Effect.Effect<void, unknown, SqlClient.SqlClient | R | Scope.Scope>,
    timeout?: number
  ) => it.live(title, () => body.pipe(Effect.scoped, Effect.provide(harness.database)), timeout)

  /** Runs a relay "process": the store as `name` opens it, a given sender, until the scope closes. */
  const relayProcess = (schema: string, name: string, sender: Sender.Sender["Type"], options: Relay.Options = {}) =>
    Effect.forkScoped(
      Effect.scoped(Relay.run(options)).pipe(
        Effect.provideService(Sender.Sender, sender),
        Effect.provide(harness.relayStore(schema, name))
      )
    )

  describe(name, () => {
    test("a transaction that publishes and then fails leaves no message; the relay sends nothing", Effect.gen(function*() {
      const schema = yield* migratedSchema
      const sql = yield* SqlClient.SqlClient
      const env = Layer.mergeAll(Outbox.layer, RecordingSender.layer()).pipe(Layer.provideMerge(storeHere(schema)))
      yield* Effect.gen(function*() {
        const failure = yield* sql.withTransaction(
          Effect.zipRight(Outbox.publish(OrderCreated, { n: 1 }), Effect.fail("payment declined"))
        ).pipe(Effect.flip)
        expect(failure).toBe("payment declined")
        expect(yield* countRows(`${schema}.outbox`)).toBe(0)
        expect((yield* Relay.drainOnce()).claimed).toBe(0)
        const committed = yield* sql.withTransaction(Outbox.publish(OrderCreated, { n: 2 }))
        expect((yield* Relay.drainOnce()).sent).toBe(1)
        expect((yield* RecordingSender.sent).map((m) => [m.id, m.payload])).toEqual([[committed, { n: 2 }]])
      }).pipe(Effect.provide(env))
    }))

    // The volume belongs in the bench: 3,000 messages in batches of 100 keep three relays contending.
    test("three relays drain 3,000 messages: every one sent, none twice, none left", Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 3_000)
      const recorder = yield* RecordingSender.make()
      for (const relay of ["a", "b", "c"]) {
        yield* relayProcess(schema, `${schema}-relay-${relay}`, recorder.sender, { batchSize: 100 })
      }
      yield* drained(schema)
      const sent = yield* sentIdsOf(recorder)
      expect(sent.length).toBe(3_000)
      expect(new Set(sent).size).toBe(3_000)
      expect(yield* countRows(`${schema}.outbox`)).toBe(0)
    }), 90_000)

    test("a relay stopped mid-batch without completing: its messages are redelivered after the lease, none lost", Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 20)
      const stuck = yield* RecordingSender.make(RecordingSender.hang())
      const first = yield* relayProcess(schema, `${schema}-first`, stuck.sender, {
        leaseFor: "1 second",
        sendTimeout: "1 hour",
        shutdownTimeout: "10 millis"
      })
      yield* eventually("the first relay to be sending the batch", Effect.map(stuck.attempts, (a) => a.length === 20))
      yield* Fiber.interrupt(first)
      const healthy = yield* RecordingSender.make()
      yield* relayProcess(schema, `${schema}-second`, healthy.sender, { pollInterval: "100 millis" })
      yield* drained(schema)
      const redelivered = (yield* healthy.attempts).map((a) => a.message)
      expect(redelivered.map((m) => Number(m.id)).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1)
      )
      expect(redelivered.every((m) => m.attempts === 1 && m.lostClaims === 1)).toBe(true)
    }))

    test("a committed publish wakes an idle relay through LISTEN/NOTIFY, long before its poll interval", Effect.gen(function*() {
      const schema = yield* migratedSchema
      const recorder = yield* RecordingSender.make()
      yield* relayProcess(schema, `${schema}-idle`, recorder.sender, { pollInterval: "1 hour" })
      const sql = yield* SqlClient.SqlClient
      // The relay's LISTEN is asynchronous: wait for that event first.
      yield* eventually("the relay to listen", harness.listening(schema, `${schema}-idle`))
      const publisher = Layer.provideMerge(Outbox.layer, storeHere(schema))
      const id = yield* sql.withTransaction(Outbox.publish(OrderCreated, { n: 1 })).pipe(Effect.provide(publisher))
      yield* eventually("the message to be delivered", Effect.map(sentIdsOf(recorder), (ids) => ids.includes(id)), 5)
    }))

    test("fencing: a relay paused past its lease settles nothing; the new holder's send is the one that counts", Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 10)
      const gate = yield* Deferred.make<void>()
      const paused = yield* RecordingSender.make()
      const pausedSender = Sender.Sender.of({ send: (batch) => Effect.zipRight(Deferred.await(gate), paused.sender.send(batch)) })
      // A paused process renews nothing: drop its lease renewals.
      const pausedStore = Layer.effect(
        OutboxStore.OutboxStore,
        Effect.map(OutboxStore.OutboxStore, (store) => ({ ...store, renewLease: () => Effect.succeed([]) }))
      ).pipe(Layer.provide(harness.relayStore(schema, `${schema}-paused`)))
      const stale = yield* Relay.drainOnce({ leaseFor: "500 millis", sendTimeout: "1 minute" }).pipe(
        Effect.provideService(Sender.Sender, pausedSender),
        Effect.provide(pausedStore),
        Effect.fork
      )
      yield* eventually(
        "the paused relay to hold the batch",
        Effect.map(countRows(`${schema}.outbox`, "locked"), (n) => n === 10)
      )
      const holder = yield* RecordingSender.make()
      yield* relayProcess(schema, `${schema}-holder`, holder.sender, { pollInterval: "50 millis" })
      yield* eventually("the holder to deliver all", Effect.map(sentIdsOf(holder), (ids) => ids.length === 10))
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(stale)).toMatchObject({ claimed: 10, sent: 0, fenced: 10 })
      expect(new Set(yield* sentIdsOf(holder)).size).toBe(10)
      expect(yield* countRows(`${schema}.outbox`)).toBe(0)
      expect(yield* countRows(`${schema}.outbox_dead_letters`)).toBe(0)
    }))

    test("inbox: the same message id processed twice runs the effect once; a rolled-back run can run again", Effect.gen(function*() {
      const schema = yield* migratedSchema
      const runs = yield* Ref.make(0)
      const work = Ref.updateAndGet(runs, (n) => n + 1)
      expect(yield* Inbox.once("m-1", work, { schema })).toEqual(Option.some(1))
      expect(yield* Inbox.once("m-1", work, { schema })).toEqual(Option.none())
      const failed = yield* Inbox.once("m-2", Effect.fail("handler failed"), { schema }).pipe(Effect.flip)
      expect(failed).toBe("handler failed")
      expect(yield* Inbox.once("m-2", work, { schema })).toEqual(Option.some(2))
      expect(yield* Ref.get(runs)).toBe(2)
    }))

    test("migrations: concurrent runs apply them once; later runs, alone or concurrent, apply nothing", Effect.gen(function*() {
      const schema = yield* schemaName
      yield* dropOnClose(schema)
      const migrate = Migrations.run({ schema, tablePrefix: "jobs" })
      const concurrent = yield* Effect.all([migrate, migrate, migrate], { concurrency: "unbounded" })
      expect(concurrent.map((applied) => applied.length).sort()).toEqual([0, 0, 6])
      expect(yield* migrate).toEqual([])
      expect(yield* Effect.all([migrate, migrate], { concurrency: "unbounded" })).toEqual([[], []])
      expect(yield* countRows(`${schema}.jobs`)).toBe(0)
      expect(yield* countRows(`${schema}.jobs_dead_letters`)).toBe(0)
      const bad = yield* Migrations.run({ schema: "no-dashes; drop" }).pipe(Effect.flip)
      expect(bad.message).toContain(`schema "no-dashes; drop" is not a plain SQL identifier`)
    }))
  })
}
