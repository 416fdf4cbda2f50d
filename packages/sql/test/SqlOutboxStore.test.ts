import { Outbox, Sender, Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { AdvisoryLock, SqlOutboxStore } from "@effect-outbox/sql"
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Deferred, type Duration, Effect, Layer, Schema } from "effect"
import { eventually } from "@effect-outbox/test-support/Eventually"
import * as SqlStoreScenarios from "@effect-outbox/test-support/SqlStoreScenarios"
import { drained, harness, migratedSchema, pgLayer, relayProcess, seed, terminate } from "./postgres.js"

// The relay over the store, as on PGlite (packages/pglite/test/SqlStoreOnPglite.test.ts).
SqlStoreScenarios.run("SqlOutboxStore on Postgres", harness)

// What needs several server sessions: terminating a relay's connections, advisory-lock
// hand-over between relays; and the claim's query plans on a large outbox.
const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

const TestSql = pgLayer("effect-outbox-test", 8)

const countRows = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ count: string }>`SELECT count(*) AS count FROM ${sql(table)}`, (rows) => Number(rows[0]?.count)))

const sentIdsOf = (recorder: RecordingSender.RecordingSender["Type"]) =>
  Effect.map(recorder.attempts, (all) => all.filter((a) => a.outcome === "sent").map((a) => a.message.id))

describe("SqlOutboxStore on Postgres, across sessions", () => {
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
