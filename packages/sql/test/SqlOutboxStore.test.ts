import { Outbox, OutboxStore, Relay, Sender, Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { AdvisoryLock, Inbox, Migrations, SqlOutboxStore } from "@effect-outbox/sql"
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Deferred, type Duration, Effect, Fiber, Layer, Option, Ref, Schema } from "effect"
import {
  drained,
  dropOnClose,
  eventually,
  migratedSchema,
  pgLayer,
  relayProcess,
  schemaName,
  seed,
  storeOn,
  terminate
} from "./postgres.js"

const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

const TestSql = pgLayer("effect-outbox-test", 8)

const countRows = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ count: string }>`SELECT count(*) AS count FROM ${sql(table)}`, (rows) => Number(rows[0]?.count)))

const sentIdsOf = (recorder: RecordingSender.RecordingSender["Type"]) =>
  Effect.map(recorder.attempts, (all) => all.filter((a) => a.outcome === "sent").map((a) => a.message.id))

describe("SqlOutboxStore on Postgres", () => {
  it.live("a transaction that publishes and then fails leaves no message; the relay sends nothing", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const sql = yield* SqlClient.SqlClient
      const env = Layer.mergeAll(Outbox.layer, RecordingSender.layer()).pipe(
        Layer.provideMerge(SqlOutboxStore.layer({ schema, migrate: false }))
      )
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
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("three relays on three pools drain 20,000 messages: every one sent, none twice, none left", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 20_000)
      const recorder = yield* RecordingSender.make()
      for (const name of ["a", "b", "c"]) {
        yield* relayProcess(schema, `${schema}-relay-${name}`, recorder.sender, { batchSize: 100 })
      }
      yield* drained(schema, 120)
      const sent = yield* sentIdsOf(recorder)
      expect(sent.length).toBe(20_000)
      expect(new Set(sent).size).toBe(20_000)
      expect(yield* countRows(`${schema}.outbox`)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 180_000)

  it.live("a relay stopped mid-batch without completing: its messages are redelivered after the lease, none lost", () =>
    Effect.gen(function*() {
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
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("a relay whose connections are terminated mid-batch: redelivered, nothing lost", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 50)
      const gate = yield* Deferred.make<void>()
      const recorder = yield* RecordingSender.make()
      // Holds the first batch until its connections are gone, then reports success.
      const held = Sender.Sender.of({
        send: (batch) => Effect.zipRight(Deferred.await(gate), recorder.sender.send(batch))
      })
      yield* relayProcess(schema, `${schema}-victim`, held, { batchSize: 50, leaseFor: "1 second" })
      yield* eventually(
        "the batch to be in flight",
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.map(
            sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(`${schema}.outbox`)} WHERE locked_by IS NOT NULL`,
            (rows) => Number(rows[0]?.n) === 50
          ))
      )
      yield* terminate(`${schema}-victim`)
      yield* Deferred.succeed(gate, undefined)
      const rescuer = yield* RecordingSender.make()
      yield* relayProcess(schema, `${schema}-rescuer`, rescuer.sender, { pollInterval: "100 millis" })
      yield* drained(schema)
      const delivered = new Set([...(yield* sentIdsOf(recorder)), ...(yield* sentIdsOf(rescuer))])
      expect(delivered.size).toBe(50)
      expect(yield* countRows(`${schema}.outbox`)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("a committed publish wakes an idle relay through NOTIFY, long before its poll interval", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const recorder = yield* RecordingSender.make()
      yield* relayProcess(schema, `${schema}-idle`, recorder.sender, { pollInterval: "1 hour" })
      const sql = yield* SqlClient.SqlClient
      // The relay's LISTEN connection is up (it is asynchronous): wait for that event first.
      yield* eventually(
        "the relay to listen",
        Effect.map(
          sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity
            WHERE application_name = ${`${schema}-idle:listen`} AND query LIKE 'LISTEN%'`,
          (rows) => Number(rows[0]?.n) === 1
        )
      )
      const publisher = Layer.provideMerge(Outbox.layer, SqlOutboxStore.layer({ schema, migrate: false }))
      const id = yield* sql.withTransaction(Outbox.publish(OrderCreated, { n: 1 })).pipe(Effect.provide(publisher))
      yield* eventually("the message to be delivered", Effect.map(sentIdsOf(recorder), (ids) => ids.includes(id)), 5)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("with advisory-lock leadership only the leader claims; terminating its connection hands over", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const a = yield* RecordingSender.make()
      const b = yield* RecordingSender.make()
      const lock = (checkInterval: Duration.DurationInput) =>
        AdvisoryLock.layer({ name: `leader:${schema}`, checkInterval })
      // a retries slowly and b quickly, so after a's connection dies b is the one to take over.
      yield* relayProcess(schema, `${schema}-a`, a.sender, { pollInterval: "100 millis" }, lock("500 millis").pipe(Layer.provide(pgLayer(`${schema}-a`))))
      const publisher = Layer.provideMerge(Outbox.layer, SqlOutboxStore.layer({ schema, migrate: false }))
      const first = yield* Outbox.publishAll(Array.from({ length: 10 }, (_, n) => ({ topic: OrderCreated, payload: { n } }))).pipe(Effect.provide(publisher))
      yield* eventually("a to lead and deliver", Effect.map(sentIdsOf(a), (ids) => ids.length === 10))
      yield* relayProcess(schema, `${schema}-b`, b.sender, { pollInterval: "100 millis" }, lock("50 millis").pipe(Layer.provide(pgLayer(`${schema}-b`))))
      const second = yield* Outbox.publishAll(Array.from({ length: 10 }, (_, n) => ({ topic: OrderCreated, payload: { n } }))).pipe(Effect.provide(publisher))
      yield* eventually("a to deliver again", Effect.map(sentIdsOf(a), (ids) => ids.length === 20))
      expect((yield* b.attempts).length).toBe(0)
      yield* terminate(`${schema}-a`)
      const third = yield* Outbox.publishAll(Array.from({ length: 10 }, (_, n) => ({ topic: OrderCreated, payload: { n } }))).pipe(Effect.provide(publisher))
      yield* eventually("b to take over", Effect.map(sentIdsOf(b), (ids) => third.every((id) => ids.includes(id))))
      expect(new Set(yield* sentIdsOf(a))).toEqual(new Set([...first, ...second]))
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("fencing: a relay paused past its lease settles nothing; the new holder's send is the one that counts", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 10)
      const gate = yield* Deferred.make<void>()
      const paused = yield* RecordingSender.make()
      const pausedSender = Sender.Sender.of({ send: (batch) => Effect.zipRight(Deferred.await(gate), paused.sender.send(batch)) })
      // A paused process renews nothing: drop its lease renewals.
      const pausedStore = Layer.effect(
        OutboxStore.OutboxStore,
        Effect.map(OutboxStore.OutboxStore, (store) => ({ ...store, renewLease: () => Effect.succeed([]) }))
      ).pipe(Layer.provide(storeOn(schema, `${schema}-paused`)))
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
      yield* relayProcess(schema, `${schema}-holder`, holder.sender, { pollInterval: "50 millis" })
      yield* eventually("the holder to deliver all", Effect.map(sentIdsOf(holder), (ids) => ids.length === 10))
      yield* Deferred.succeed(gate, undefined)
      const summary = yield* Fiber.join(stale)
      expect(summary).toMatchObject({ claimed: 10, sent: 0, fenced: 10 })
      expect(new Set(yield* sentIdsOf(holder)).size).toBe(10)
      expect(yield* countRows(`${schema}.outbox`)).toBe(0)
      expect(yield* countRows(`${schema}.outbox_dead_letters`)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("inbox: the same message id processed twice runs the effect once; a rolled-back run can run again", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const runs = yield* Ref.make(0)
      const work = Ref.updateAndGet(runs, (n) => n + 1)
      expect(yield* Inbox.once("m-1", work, { schema })).toEqual(Option.some(1))
      expect(yield* Inbox.once("m-1", work, { schema })).toEqual(Option.none())
      const failed = yield* Inbox.once("m-2", Effect.fail("handler failed"), { schema }).pipe(Effect.flip)
      expect(failed).toBe("handler failed")
      expect(yield* Inbox.once("m-2", work, { schema })).toEqual(Option.some(2))
      expect(yield* Ref.get(runs)).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("migrations: running twice applies nothing the second time; concurrent runs are safe", () =>
    Effect.gen(function*() {
      const schema = yield* schemaName
      yield* dropOnClose(schema)
      const concurrent = yield* Effect.all(
        Array.from({ length: 3 }, () => Migrations.run({ schema, tablePrefix: "jobs" })),
        { concurrency: "unbounded" }
      )
      expect(concurrent.map((applied) => applied.length).sort()).toEqual([0, 0, 5])
      expect(yield* Migrations.run({ schema, tablePrefix: "jobs" })).toEqual([])
      expect(yield* countRows(`${schema}.jobs`)).toBe(0)
      expect(yield* countRows(`${schema}.jobs_dead_letters`)).toBe(0)
      const bad = yield* Migrations.run({ schema: "no-dashes; drop" }).pipe(Effect.flip)
      expect(bad.message).toContain(`schema "no-dashes; drop" is not a plain SQL identifier`)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("the claim on a 100k-row outbox is served by the claimable partial index", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 100_000)
      const sql = yield* SqlClient.SqlClient
      yield* sql`ANALYZE ${sql(`${schema}.outbox`)}`
      const plan = yield* SqlOutboxStore.explainClaim({ schema })
      expect(plan.join("\n")).toContain("Index Scan using outbox_claimable")
      expect(plan.join("\n")).not.toMatch(/Seq Scan|Sort/)
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)

  it.live("the ordered claim on 100k rows over 10k keys probes the key-order index, never scans the table", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const sql = yield* SqlClient.SqlClient
      const outbox = sql(`${schema}.outbox`)
      yield* sql`INSERT INTO ${outbox} (topic, key, payload)
        SELECT 'order.created', 'k-' || (g % 10000), jsonb_build_object('n', g) FROM generate_series(1, 100000) g`
      yield* sql`ANALYZE ${outbox}`
      const plan = (yield* SqlOutboxStore.explainClaim({ schema, ordered: "all" })).join("\n")
      expect(plan).toContain("Index Scan using outbox_claimable")
      expect(plan).toMatch(/Index Only Scan using outbox_key_order|Index Scan using outbox_key_order/)
      expect(plan).toContain("using outbox_held_keys")
      // The parked-key check may read the (small, here empty) dead letters table whole; the outbox never.
      expect(plan).not.toMatch(/Seq Scan on outbox |Sort/)
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)
})
