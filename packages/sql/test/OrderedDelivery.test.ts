import { OutboxStore, RetryPolicy } from "@effect-outbox/core"
import { OrderCheck, RecordingSender } from "@effect-outbox/core/testing"
import { SqlOutboxStore } from "@effect-outbox/sql"
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Fiber, Option } from "effect"
import { eventually } from "@effect-outbox/test-support/Eventually"
import { drained, migratedSchema, pgLayer, relayProcess } from "./postgres.js"

const TestSql = pgLayer("effect-outbox-ordered-test", 6)

const storeIn = (schema: string) => SqlOutboxStore.layer({ schema, migrate: false })

/** A small seeded PRNG, so a failing run can be replayed with the same failures. */
const seededRandom = (seed: number) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Appends `perKey` rounds of one message per key (interleaved, as real traffic is); returns them in publish order. */
const publishRounds = (keys: number, perKey: number) =>
  Effect.gen(function*() {
    const store = yield* OutboxStore.OutboxStore
    const published: Array<{ readonly id: string; readonly key: string }> = []
    for (let seq = 0; seq < perKey; seq++) {
      const round = Array.from({ length: keys }, (_, k) => ({
        topic: "account.event",
        key: `acct-${k}`,
        payload: { account: `acct-${k}`, seq },
        headers: {}
      }))
      const ids = yield* store.append(round)
      ids.forEach((id, k) => published.push({ id, key: `acct-${k}` }))
    }
    return published
  })

/** Each key's ids in publish order. */
const idsByKey = (published: ReadonlyArray<{ readonly id: string; readonly key: string }>) => {
  const byKey = new Map<string, Array<string>>()
  for (const { id, key } of published) byKey.set(key, [...(byKey.get(key) ?? []), id])
  return byKey
}

/** Appends one message per key, in one `append` (one statement); their ids. */
const publishKeys = (schema: string, keys: ReadonlyArray<string>) =>
  Effect.flatMap(OutboxStore.OutboxStore, (s) => s.append(keys.map((key) => ({ topic: "t", key, payload: {}, headers: {} })))).pipe(
    Effect.provide(storeIn(schema)),
    Effect.map((ids) => ids.map(Number))
  )

/** How many of this outbox's per-key locks are held (granted) or awaited; other tests take advisory locks too. */
const keyLocksOf = (schema: string, granted: boolean) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ n: string }>`SELECT count(*) AS n FROM pg_locks
        WHERE locktype = 'advisory' AND objsubid = 2 AND granted = ${granted}
          AND classid::bigint = (hashtext(${`${schema}.outbox`})::bigint + 4294967296) % 4294967296`,
      (rows) => Number(rows[0]?.n)
    ))

describe("Ordered delivery on Postgres", () => {
  it.live(
    "three relays, 200 keys × 20 messages, 20% of sends failing: per-key order holds and nothing overtakes an unacked message",
    () =>
      Effect.gen(function*() {
        // The volume is the bench's (its ordered run drains 20,000 messages over 1,000 keys): 200 keys
        // still keep six concurrent ordered claims of 100 contending for heads, 20 deep per key.
        const keys = 200
        const perKey = 20
        const total = keys * perKey
        const schema = yield* migratedSchema
        const published = yield* publishRounds(keys, perKey).pipe(Effect.provide(storeIn(schema)))
        const byKey = idsByKey(published)
        const random = seededRandom(8)
        const recorder = yield* RecordingSender.make(() => (random() < 0.2 ? "failed" : "sent"))
        const check = yield* OrderCheck.make(recorder.sender, OrderCheck.earlierOnKey(published)).pipe(Effect.provide(storeIn(schema)))
        const relay = {
          ordered: true,
          batchSize: 100,
          concurrency: 2,
          pollInterval: "50 millis",
          retryPolicy: RetryPolicy.fixed({ delay: "20 millis", maxAttempts: 100 })
        } as const
        for (const name of ["a", "b", "c"]) yield* relayProcess(schema, `${schema}-ordered-${name}`, check.sender, relay)
        yield* drained(schema, 150)

        expect(yield* check.violations).toEqual([])
        const first = yield* check.firstHandovers
        expect(first.size).toBe(keys)
        for (const [key, ids] of byKey) expect(first.get(key)).toEqual(ids)
        const attempts = yield* recorder.attempts
        const sent = attempts.filter((a) => a.outcome === "sent").map((a) => a.message.id)
        expect(new Set(sent).size).toBe(total)
        // No lease expired here, so no message was delivered twice.
        expect(sent.length).toBe(total)
        const failed = attempts.filter((a) => a.outcome === "failed").length
        expect(failed / attempts.length).toBeGreaterThan(0.15)
        // Redelivery of one message is allowed (at least once); it is counted, not hidden.
        const redelivered = yield* check.redeliveries
        expect(redelivered).toBe(attempts.length - total)
        const stats = yield* Effect.flatMap(OutboxStore.OutboxStore, (s) => s.stats).pipe(Effect.provide(storeIn(schema)))
        expect(stats).toMatchObject({ pending: 0, inFlight: 0, dead: 0, parkedKeys: 0 })
      }).pipe(Effect.scoped, Effect.provide(TestSql)),
    180_000
  )

  it.live("a poison head delays only its key; block parks the key until replay, skip lets it move on", () =>
    Effect.gen(function*() {
      for (const deadLetteredKey of ["block", "skip"] as const) {
        const schema = yield* migratedSchema
        const published = yield* publishRounds(1_000, 3).pipe(Effect.provide(storeIn(schema)))
        const poisonIds = idsByKey(published).get("acct-7") ?? []
        const [poison] = poisonIds
        const others = published.filter((p) => p.key !== "acct-7").map((p) => p.id)
        // The poison fails (transiently) until every other key is through, then for good.
        const recorder = yield* RecordingSender.make((message) => (message.id === poison ? "failed" : "sent"))
        const check = yield* OrderCheck.make(recorder.sender, OrderCheck.earlierOnKey(published)).pipe(Effect.provide(storeIn(schema)))
        yield* relayProcess(schema, `${schema}-poison`, check.sender, {
          ordered: true,
          deadLetteredKey,
          pollInterval: "50 millis",
          retryPolicy: RetryPolicy.fixed({ delay: "20 millis", maxAttempts: 1_000_000 })
        })
        const store = yield* OutboxStore.OutboxStore.pipe(Effect.provide(storeIn(schema)))
        yield* eventually("the 999 other keys to complete", Effect.map(store.unsettled(others), (left) => left.length === 0))
        const tries = (yield* recorder.attempts).filter((a) => a.message.id === poison).length
        expect(tries).toBeGreaterThan(1)
        expect(yield* store.unsettled(poisonIds)).toEqual(poisonIds)
        expect((yield* store.stats).dead).toBe(0)

        yield* recorder.setBehaviour((message) => (message.id === poison ? "rejected" : "sent"))
        yield* eventually("the poison to be dead-lettered", Effect.map(store.stats, (stats) => stats.dead === 1))
        if (deadLetteredKey === "block") {
          expect((yield* store.deadLetters.parkedKeys()).map((p) => [p.key, p.messageId, p.reason])).toEqual([
            ["acct-7", poison, "Rejected"]
          ])
          // Parked: while the relay goes on delivering other keys, the rest of this one stays put.
          const [later] = yield* store.append([{ topic: "account.event", key: "acct-8", payload: { seq: 3 }, headers: {} }])
          yield* eventually("a later message on another key", Effect.map(store.unsettled([later ?? ""]), (left) => left.length === 0))
          expect(yield* store.unsettled(poisonIds.slice(1))).toEqual(poisonIds.slice(1))
          expect((yield* check.firstHandovers).get("acct-7")).toEqual([poison])
          yield* recorder.setBehaviour(RecordingSender.alwaysSend)
          expect(yield* store.deadLetters.replay({ ids: poisonIds.slice(0, 1) })).toBe(1)
        }
        yield* drained(schema)
        expect((yield* check.firstHandovers).get("acct-7")).toEqual(poisonIds)
        expect(yield* store.stats).toMatchObject({ parkedKeys: 0, dead: deadLetteredKey === "block" ? 0 : 1 })
        expect(yield* check.violations).toEqual([])
      }
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 120_000)

  it.live("publishers of one key queue behind each other's transactions, so ids follow commit order; other keys do not wait", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const sql = yield* SqlClient.SqlClient
      const publish = (key: string) => Effect.map(publishKeys(schema, [key]), (ids) => ids[0] ?? 0)
      const keyLocks = (granted: boolean) => keyLocksOf(schema, granted)
      const release = yield* Effect.makeLatch(false)
      // The first publisher keeps its transaction open until released.
      const first = yield* sql.withTransaction(Effect.zipLeft(publish("k"), release.await)).pipe(Effect.fork)
      yield* eventually("the first publisher to hold its key", Effect.map(keyLocks(true), (n) => n === 1))
      const second = yield* sql.withTransaction(publish("k")).pipe(Effect.fork)
      yield* eventually("the second publisher of the key to wait for it", Effect.map(keyLocks(false), (n) => n === 1))
      const otherKey = yield* sql.withTransaction(publish("j"))
      expect(Option.isNone(yield* Fiber.poll(second))).toBe(true)
      yield* release.open
      const [firstId, secondId] = [yield* Fiber.join(first), yield* Fiber.join(second)]
      expect(otherKey).toBeGreaterThan(firstId)
      // Drawn after the first publisher committed, so after the other key's too.
      expect(secondId).toBeGreaterThan(otherKey)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("publishAll takes its keys' locks in sorted order, so it never holds one key while waiting for another", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const sql = yield* SqlClient.SqlClient
      const release = yield* Effect.makeLatch(false)
      // One publisher holds key a. Another publishes [b, a] at once: sorted, it waits for a holding nothing.
      const holder = yield* sql.withTransaction(Effect.zipLeft(publishKeys(schema, ["a"]), release.await)).pipe(Effect.fork)
      yield* eventually("the first publisher to hold a", Effect.map(keyLocksOf(schema, true), (n) => n === 1))
      const both = yield* sql.withTransaction(publishKeys(schema, ["b", "a"])).pipe(Effect.fork)
      yield* eventually("the second publisher to wait for a", Effect.map(keyLocksOf(schema, false), (n) => n === 1))
      // So key b is free: a third publisher of b does not wait (had b been locked first, it would, until a is released).
      const onlyB = yield* sql.withTransaction(publishKeys(schema, ["b"])).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("publishing b waited: publishAll held b while waiting for a") })
      )
      expect(onlyB).toHaveLength(1)
      yield* release.open
      yield* Fiber.join(holder)
      expect(yield* Fiber.join(both)).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))
})
