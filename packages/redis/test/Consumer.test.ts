import { RedisStreamsSender } from "@effect-outbox/redis"
import { Migrations } from "@effect-outbox/sql"
import * as SenderFixtures from "@effect-outbox/test-support/SenderFixtures"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Random, Redacted } from "effect"
import { consumeOnce, ensureGroup, type Reader } from "../examples/consumer.js"
import { adminClient, redisAddress, testPrefix } from "./redis.js"

// The README's consumer, run for real: the shared Redis, and an inbox in a Postgres schema of its own.
const databaseUrl = process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const Pg = PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 2 })

const message = (id: string, n: number) => SenderFixtures.message(id, "payment.captured", { payload: { n } })

describe("the consumer example", () => {
  it.scopedLive("reads with a consumer group, handles each message id once (duplicates and redeliveries included), acks everything", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const schema = `redis_consumer_${(yield* Random.nextIntBetween(0, 2 ** 31)).toString(36)}`
      yield* Effect.addFinalizer(() => Effect.orDie(sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`))
      yield* Migrations.run({ schema })
      yield* sql`CREATE TABLE ${sql(schema)}.payments (id text PRIMARY KEY, amount int NOT NULL)`

      const admin = yield* adminClient()
      const { dedupePrefix, streamPrefix } = yield* testPrefix(admin)
      const stream = `${streamPrefix}payment.captured`
      const sender = yield* SenderFixtures.buildSender(
        RedisStreamsSender.layer({ ...redisAddress, streamPrefix, dedupePrefix, dedupeWindow: "1 second" })
      )
      yield* sender.send([message("p-1", 10), message("p-2", 20)])
      // A copy appended past the dedupe window, and an entry nobody's sender wrote.
      yield* Effect.promise(() => admin.del(`${dedupePrefix}:sent:p-1`))
      yield* sender.send([message("p-1", 10), message("p-3", 30)])
      yield* Effect.promise(() => admin.xadd(stream, "*", "hello", "world"))

      const reader: Reader = { redis: admin, stream, group: "billing", consumer: "billing-1", inbox: { schema } }
      yield* ensureGroup(reader)
      yield* ensureGroup(reader) // a second time is harmless
      // The handler writes in the inbox's transaction; it fails once for p-2, which stays pending and is read again.
      let failOnce = true
      const handled: Array<string> = []
      const handle = (entry: { readonly id: string; readonly payload: unknown }) =>
        Effect.gen(function*() {
          if (entry.id === "p-2" && failOnce) {
            failOnce = false
            return yield* Effect.fail("payment service unavailable")
          }
          const amount = (entry.payload as { readonly n: number }).n // a test double: the payload is ours
          yield* sql`INSERT INTO ${sql(schema)}.payments ${sql.insert({ id: entry.id, amount })}`
          handled.push(entry.id)
        })
      const first = yield* Effect.either(consumeOnce(reader, handle))
      expect(first._tag).toBe("Left")
      let read = 0
      while ((yield* consumeOnce(reader, handle)) > 0) read++
      expect(read).toBeGreaterThan(0)

      expect(handled.sort()).toEqual(["p-1", "p-2", "p-3"])
      const payments = yield* sql<{ id: string; amount: number }>`SELECT id, amount FROM ${sql(schema)}.payments ORDER BY id`
      expect(payments).toEqual([{ id: "p-1", amount: 10 }, { id: "p-2", amount: 20 }, { id: "p-3", amount: 30 }])
      // Every entry acknowledged; the foreign one parked with its reason.
      const [pendingCount] = (yield* Effect.promise(() => admin.xpending(stream, "billing"))) as [number, ...Array<unknown>]
      expect(pendingCount).toBe(0)
      const dead = yield* Effect.promise(() => admin.xrange(`${stream}:dead`, "-", "+"))
      expect(dead.map(([, fields]) => fields[3])).toEqual([`Not an outbox stream entry: field "headers" is missing`])
    }).pipe(Effect.scoped, Effect.provide(Pg)), { timeout: 30_000 })
})
