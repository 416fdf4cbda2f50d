import { OutboxInsight, RelayRegistry } from "@effect-outbox/sql"
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect } from "effect"
import { migratedSchema, pgLayer } from "./postgres.js"

const TestSql = pgLayer("effect-outbox-insight-test", 2)

const insert = (schema: string, count: number, topic: string, extra = "") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe(`INSERT INTO ${schema}.outbox (topic, key, payload ${extra === "" ? "" : ", available_at, attempts"})
      SELECT '${topic}', 'k-' || (g % 3), jsonb_build_object('n', g) ${extra === "" ? "" : `, ${extra}`}
      FROM generate_series(1, ${count}) g`))

const letters = (schema: string, rows: ReadonlyArray<{ topic: string; error: string }>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.forEach(rows, (row) =>
      sql`INSERT INTO ${sql(`${schema}.outbox_dead_letters`)} (id, topic, payload, headers, attempts, created_at, available_at, reason, last_error)
        VALUES (nextval(pg_get_serial_sequence(${`${schema}.outbox`}, 'id')), ${row.topic}, '{}'::jsonb, '{}'::jsonb, 1, now(), now(),
          'Exhausted', ${row.error})`, { discard: true }))

describe("OutboxInsight on Postgres", () => {
  it.live("counts what waits, stopping at the cap with a label, and pages waiting messages by id", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* insert(schema, 12, "now")
      yield* insert(schema, 2, "later", "now() + interval '1 hour', 3")
      const insight = yield* OutboxInsight.make({ schema, countCap: 10 })

      const overview = yield* insight.overview
      expect(overview.pending).toEqual({ value: 10, kind: "atLeast" })
      expect(overview.dueNow).toEqual({ value: 10, kind: "atLeast" })
      expect(overview.waitingForRetry).toEqual({ value: 2, kind: "exact" })
      expect(overview.inFlight).toEqual({ value: 0, kind: "exact" })

      const first = yield* insight.waiting({ limit: 5 })
      const second = yield* insight.waiting({ limit: 5, after: first.next ?? undefined })
      const rest = yield* insight.waiting({ limit: 5, after: second.next ?? undefined })
      const ids = [...first.items, ...second.items, ...rest.items].map((message) => Number(message.id))
      expect(ids).toHaveLength(14)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
      expect(rest.next).toBeNull()
      expect((yield* insight.waiting({ limit: 50, state: "retrying" })).items.map((message) => message.topic)).toEqual(["later", "later"])
      const one = yield* insight.message(first.items[0]?.id ?? "")
      expect(one?.payload).toEqual({ n: 1 })
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("filters dead letters by error text; a count's upTo leaves later letters out", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* letters(schema, [
        { topic: "billing", error: "card DECLINED" },
        { topic: "billing", error: "timeout" },
        { topic: "shipping", error: "card declined" }
      ])
      const insight = yield* OutboxInsight.make({ schema })
      const counted = yield* insight.countDeadLetters({ topic: "billing", error: "declined" })
      expect(counted.matched).toBe(1)
      yield* letters(schema, [{ topic: "billing", error: "declined again" }])
      const upTo = counted.maxId ?? undefined
      expect(yield* insight.deadLetterIds({ topic: "billing", error: "declined", upTo, limit: 10 })).toEqual([counted.maxId])
      expect((yield* insight.deadLetters({ topic: "billing", error: "declined", limit: 10 })).items).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("relays are listed from their heartbeats, and stale ones are removed", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const registry = yield* RelayRegistry.make({ schema })
      const beat = (relayId: string) =>
        registry.beat({
          relayId,
          host: "h",
          pid: 1,
          claimMode: "lease",
          batchSize: 100,
          concurrency: 2,
          ordered: "false",
          state: "running",
          startedAt: new Date(),
          lastBatchAt: null,
          sent: 5,
          retried: 1,
          deadLettered: 0
        })
      yield* beat("a")
      yield* beat("b")
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE ${sql(`${schema}.outbox_relays`)} SET last_seen = now() - interval '5 minutes' WHERE relay_id = 'a'`
      expect(yield* registry.removeStale(Duration.minutes(1))).toBe(1)
      const listed = yield* registry.list
      expect(listed.map((relay) => [relay.relayId, relay.sent, relay.concurrency])).toEqual([["b", 5, 2]])
    }).pipe(Effect.scoped, Effect.provide(TestSql)))
})
