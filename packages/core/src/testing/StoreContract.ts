/**
 * The store contract suite: every behaviour an `OutboxStore` must have, as
 * vitest tests. Every store (memory, Postgres, PGlite) runs the same suite in
 * one line; each test builds the store layer afresh, so a SQL store can give
 * each test its own schema.
 *
 * @example
 * import { MemoryStore } from "@effect-outbox/core"
 * import { StoreContract } from "@effect-outbox/core/testing"
 *
 * StoreContract.run("MemoryStore", { layer: MemoryStore.layer, clock: "test" })
 *
 * @since 0.1.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type { NewMessage } from "../Message.js"
import { type Claim, Completion, type Ordering, OutboxStore, type OutboxStoreError } from "../OutboxStore.js"
import * as AckAndClaimContract from "./AckAndClaimContract.js"
import * as TransactionalContract from "./TransactionalContract.js"

/** How to run the suite against one store. */
export interface Options<E> {
  /** Builds a fresh, empty, migrated store; built once per test. */
  readonly layer: Layer.Layer<OutboxStore, E>
  /**
   * `test`: the store reads Effect's `Clock`, and tests drive it with `TestClock`.
   * `live`: the store keeps its own time (a database's `now()`); tests use short
   * leases and poll for the expected event, with a deadline.
   */
  readonly clock: "test" | "live"
  /** Per-test timeout in live mode. Default 20 s. */
  readonly timeout?: number | undefined
  /**
   * Whether the store offers the transactional claim mode: its contract
   * (`TransactionalContract`) runs too. Without it, the store must leave
   * `transactional` out, so a relay asking for the mode refuses to start.
   */
  readonly transactional?: boolean | undefined
  /**
   * Whether the store folds acks into claims (`ackAndClaim`): its contract
   * (`AckAndClaimContract`) runs too. Without it, the store must leave `ackAndClaim` out.
   */
  readonly ackAndClaim?: boolean | undefined
}

const message = (topic: string, payload: unknown, extra: Partial<NewMessage> = {}): NewMessage => ({
  topic,
  key: null,
  payload,
  headers: {},
  ...extra
})

/** Registers the contract tests for a store under `describe(name)`. */
export const run = <E>(name: string, options: Options<E>): void => {
  const live = options.clock === "live"
  // Long enough that a live store's claim/complete round trips finish well inside it.
  const shortLease = live ? Duration.millis(400) : Duration.seconds(30)
  const longLease = Duration.minutes(10)
  const step = live ? Duration.millis(50) : Duration.seconds(1)
  const elapse = (duration: Duration.Duration) => (live ? Effect.sleep(duration) : TestClock.adjust(duration))

  const test = (title: string, body: Effect.Effect<void, OutboxStoreError | Error, OutboxStore>) =>
    (live ? it.live : it.effect)(title, () => Effect.provide(body, options.layer), options.timeout ?? 20_000)

  const store = OutboxStore
  const claim = (batchSize: number, leaseFor: Duration.Duration = longLease, freshFirst = false) =>
    Effect.flatMap(store, (s) => s.claim({ batchSize, leaseFor, freshFirst }))
  const claimOrdered = (ordered: Ordering = "all", batchSize = 10) =>
    Effect.flatMap(store, (s) => s.claim({ batchSize, leaseFor: longLease, ordered }))
  /** What a claim handed out, as `[topic, key, n]` with `n` from the payload. */
  const handed = (claimed: Claim) =>
    claimed.messages.map((m) => [m.topic, m.key, (m.payload as { readonly n: number }).n])
  const append = (...messages: ReadonlyArray<NewMessage>) => Effect.flatMap(store, (s) => s.append(messages))
  const complete = (claimed: Claim, completions: ReadonlyArray<Completion>) =>
    Effect.flatMap(store, (s) => s.complete(claimed.token, completions))

  /** Claims until a claim holds `id` (the event the test waits for), letting time pass between tries. */
  const claimUntilHolding = (id: string, leaseFor: Duration.Duration = longLease, ordered?: Ordering) =>
    Effect.gen(function*() {
      const deadline = live ? 100 : 1_000
      for (let tries = 0; tries < deadline; tries++) {
        const claimed = yield* Effect.flatMap(store, (s) => s.claim({ batchSize: 10, leaseFor, ordered }))
        if (claimed.messages.some((m) => m.id === id)) return claimed
        yield* elapse(step)
      }
      return yield* Effect.fail(new Error(`message ${id} was never claimable again`))
    })

  if (options.transactional === true) TransactionalContract.run(name, options)
  if (options.ackAndClaim === true) AckAndClaimContract.run(name, options)

  describe(`${name} (OutboxStore contract)`, () => {
    if (options.transactional !== true) {
      test("declares no transactional claim mode, so a relay asking for it refuses to start", Effect.gen(function*() {
        expect((yield* store).transactional).toBeUndefined()
      }))
    }
    if (options.ackAndClaim !== true) {
      test("declares no folded acks, so a relay completes each batch on its own", Effect.gen(function*() {
        expect((yield* store).ackAndClaim).toBeUndefined()
      }))
    }

    test("a claim returns appended messages intact, FIFO by id, on their first attempt", Effect.gen(function*() {
      const ids = yield* append(
        message("order.created", { orderId: "o-1", lines: [1, 2], note: "ünïcode ✓" }, {
          key: "customer-7",
          headers: { traceparent: "00-abc-def-01", "x-app": "shop" }
        }),
        message("order.paid", { orderId: "o-1" })
      )
      expect(ids).toHaveLength(2)
      expect(Number(ids[1])).toBeGreaterThan(Number(ids[0]))
      const claimed = yield* claim(10)
      expect(claimed.messages.map((m) => m.id)).toEqual(ids)
      const [first, second] = claimed.messages
      expect(first?.topic).toBe("order.created")
      expect(first?.key).toBe("customer-7")
      expect(first?.payload).toEqual({ orderId: "o-1", lines: [1, 2], note: "ünïcode ✓" })
      expect(first?.headers).toEqual({ traceparent: "00-abc-def-01", "x-app": "shop" })
      expect(first?.attempts).toBe(1)
      expect(first?.createdAt).toBeInstanceOf(Date)
      expect(second?.key).toBeNull()
    }))

    test("nextDue: how long until the earliest delayed message or retry comes due; none when nothing waits", Effect.gen(function*() {
      const nextDueMillis = Effect.flatMap(store, (s) => s.nextDue).pipe(Effect.map(Option.map(Duration.toMillis)))
      expect(Option.isNone(yield* nextDueMillis)).toBe(true)
      yield* append(message("t", { n: 1 }))
      // A message claimable now is not "due later".
      expect(Option.isNone(yield* nextDueMillis)).toBe(true)
      yield* append(message("t", { n: 2 }, { delay: Duration.minutes(10) }))
      yield* append(message("t", { n: 3 }, { delay: Duration.minutes(5) }))
      // The one available message, leased for ten minutes: its lease ends after the 5-minute delay.
      expect((yield* claim(10)).messages).toHaveLength(1)
      const due = yield* nextDueMillis
      // Five minutes, less the time the statements took on a live store.
      expect(Option.getOrElse(due, () => 0)).toBeGreaterThan(4 * 60_000)
      expect(Option.getOrElse(due, () => Infinity)).toBeLessThanOrEqual(5 * 60_000)
    }))

    test("batchSize limits a claim and the next claim continues in id order", Effect.gen(function*() {
      const ids = yield* append(...[1, 2, 3, 4, 5].map((n) => message("t", { n })))
      const first = yield* claim(2)
      const second = yield* claim(2)
      const third = yield* claim(2)
      expect(first.messages.map((m) => m.id)).toEqual(ids.slice(0, 2))
      expect(second.messages.map((m) => m.id)).toEqual(ids.slice(2, 4))
      expect(third.messages.map((m) => m.id)).toEqual(ids.slice(4))
      expect((yield* claim(2)).messages).toHaveLength(0)
    }))

    test("concurrent claims never hand one message to two claimers", Effect.gen(function*() {
      const ids = yield* append(...Array.from({ length: 60 }, (_, n) => message("t", { n })))
      const claims = yield* Effect.all(Array.from({ length: 6 }, () => claim(15)), { concurrency: "unbounded" })
      const claimed = claims.flatMap((c) => c.messages.map((m) => m.id))
      expect(new Set(claimed).size).toBe(claimed.length)
      expect(new Set(claims.map((c) => c.token)).size).toBe(claims.length)
      const rest = yield* claim(100)
      expect([...claimed, ...rest.messages.map((m) => m.id)].sort()).toEqual([...ids].sort())
    }))

    test("an expired lease makes the message claimable again, counting a lost claim, not a failed send", Effect.gen(function*() {
      const [id] = yield* append(message("t", { n: 1 }))
      const first = yield* claim(10, shortLease)
      expect(first.messages.map((m) => [m.attempts, m.lostClaims])).toEqual([[1, 0]])
      expect((yield* claim(10)).messages).toHaveLength(0)
      const again = yield* claimUntilHolding(String(id))
      expect(again.messages.map((m) => [m.attempts, m.lostClaims])).toEqual([[1, 1]])
      // A failed send after it counts as the first failure; the lost claim stays counted apart.
      yield* complete(again, [Completion.Retry({ id: String(id), delay: Duration.zero, error: "503" })])
      const third = yield* claimUntilHolding(String(id))
      expect(third.messages.map((m) => [m.attempts, m.lostClaims])).toEqual([[2, 1]])
    }))

    test("ack removes the message", Effect.gen(function*() {
      const ids = yield* append(message("t", { n: 1 }), message("t", { n: 2 }))
      const claimed = yield* claim(10)
      const report = yield* complete(claimed, ids.map((id) => Completion.Ack({ id })))
      expect([...report.completed].sort()).toEqual([...ids].sort())
      expect(report.fenced).toEqual([])
      const s = yield* store
      expect(yield* s.unsettled(ids)).toEqual([])
      expect(yield* s.stats).toMatchObject({ pending: 0, inFlight: 0, dead: 0, oldestPendingAgeMillis: null })
      expect((yield* claim(10)).messages).toHaveLength(0)
    }))

    test("retry keeps the message until its delay has passed, with its last error", Effect.gen(function*() {
      const [id] = yield* append(message("t", { n: 1 }))
      const claimed = yield* claim(10)
      const delay = live ? Duration.millis(500) : Duration.seconds(10)
      const report = yield* complete(claimed, [Completion.Retry({ id: String(id), delay, error: "503 from receiver" })])
      expect(report.completed).toEqual([id])
      expect((yield* claim(10)).messages).toHaveLength(0)
      if (!live) {
        yield* TestClock.adjust(Duration.subtract(delay, Duration.millis(1)))
        expect((yield* claim(10)).messages).toHaveLength(0)
        yield* TestClock.adjust(Duration.millis(1))
      }
      const again = yield* claimUntilHolding(String(id))
      expect(again.messages[0]?.attempts).toBe(2)
      expect(yield* Effect.flatMap(store, (s) => s.unsettled([String(id)]))).toEqual([id])
    }))

    test("release makes the message available at once without spending an attempt", Effect.gen(function*() {
      const [id] = yield* append(message("t", { n: 1 }))
      const claimed = yield* claim(10)
      yield* complete(claimed, [Completion.Release({ id: String(id) })])
      const again = yield* claim(10)
      expect(again.messages.map((m) => [m.id, m.attempts])).toEqual([[id, 1]])
    }))

    test("a delayed message is not claimable before its delay", Effect.gen(function*() {
      const delay = live ? Duration.millis(500) : Duration.seconds(5)
      const [id] = yield* append(message("t", { n: 1 }, { delay }))
      expect((yield* claim(10)).messages).toHaveLength(0)
      const claimed = yield* claimUntilHolding(String(id))
      expect(claimed.messages[0]?.attempts).toBe(1)
    }))

    test("freshFirst claims first attempts before retries; without it, FIFO by id", Effect.gen(function*() {
      const [retried] = yield* append(message("t", { n: 1 }))
      const first = yield* claim(1)
      yield* complete(first, [Completion.Retry({ id: String(retried), delay: Duration.zero, error: "x" })])
      const fresh = yield* append(message("t", { n: 2 }), message("t", { n: 3 }))
      const freshClaim = yield* claim(2, longLease, true)
      expect(freshClaim.messages.map((m) => m.id)).toEqual(fresh)
      yield* complete(freshClaim, fresh.map((id) => Completion.Release({ id })))
      const fifo = yield* claim(2)
      expect(fifo.messages.map((m) => m.id)).toEqual([retried, fresh[0]])
    }))

    test("dead letters keep reason, attempts and last error; list filters them", Effect.gen(function*() {
      const [a, b, c] = yield* append(
        message("order.created", { n: 1 }),
        message("order.paid", { n: 2 }),
        message("order.created", { n: 3 })
      )
      const claimed = yield* claim(10)
      const report = yield* complete(claimed, [
        Completion.DeadLetter({ id: String(a), reason: "Rejected", error: "404 Not Found" }),
        Completion.DeadLetter({ id: String(b), reason: "Exhausted", error: "503 after 10 attempts" }),
        Completion.DeadLetter({ id: String(c), reason: "Undecodable", error: "expected a number" })
      ])
      expect(report.completed).toHaveLength(3)
      const s = yield* store
      const all = yield* s.deadLetters.list({})
      expect(all.map((l) => [l.id, l.reason, l.lastError, l.attempts])).toEqual([
        [a, "Rejected", "404 Not Found", 1],
        [b, "Exhausted", "503 after 10 attempts", 1],
        [c, "Undecodable", "expected a number", 1]
      ])
      expect(all[0]?.payload).toEqual({ n: 1 })
      expect(all[0]?.deadAt).toBeInstanceOf(Date)
      expect((yield* s.deadLetters.list({ topic: "order.created" })).map((l) => l.id)).toEqual([a, c])
      expect((yield* s.deadLetters.list({ reason: "Exhausted" })).map((l) => l.id)).toEqual([b])
      expect((yield* s.deadLetters.list({ ids: [String(c)] })).map((l) => l.id)).toEqual([c])
      expect((yield* s.deadLetters.list({ limit: 1 })).map((l) => l.id)).toEqual([a])
      expect(yield* s.deadLetters.list({ olderThan: Duration.hours(1) })).toEqual([])
      expect((yield* claim(10)).messages).toHaveLength(0)
      expect((yield* s.stats).dead).toBe(3)
    }))

    test("replay puts dead letters back with attempts reset; purge deletes them", Effect.gen(function*() {
      const [a, b, c] = yield* append(message("t", { n: 1 }), message("t", { n: 2 }), message("u", { n: 3 }))
      const claimed = yield* claim(10)
      yield* complete(claimed, [
        Completion.DeadLetter({ id: String(a), reason: "Rejected", error: "e" }),
        Completion.DeadLetter({ id: String(b), reason: "Exhausted", error: "e" }),
        Completion.DeadLetter({ id: String(c), reason: "Exhausted", error: "e" })
      ])
      const s = yield* store
      expect(yield* s.deadLetters.replay({ ids: [String(a)] })).toBe(1)
      const replayed = yield* claim(10)
      expect(replayed.messages.map((m) => [m.id, m.attempts, m.payload])).toEqual([[a, 1, { n: 1 }]])
      expect(yield* s.deadLetters.purge({ topic: "u" })).toBe(1)
      expect(yield* s.deadLetters.purge({ topic: "u" })).toBe(0)
      expect((yield* s.deadLetters.list({})).map((l) => l.id)).toEqual([b])
      expect((yield* s.stats).dead).toBe(1)
    }))

    test("stats count pending, in flight and dead, and the oldest pending age", Effect.gen(function*() {
      const s = yield* store
      expect(yield* s.stats).toEqual({ pending: 0, inFlight: 0, dead: 0, oldestPendingAgeMillis: null, parkedKeys: 0 })
      yield* append(message("t", { n: 1 }), message("t", { n: 2 }), message("t", { n: 3 }, { delay: Duration.hours(1) }))
      yield* elapse(live ? Duration.millis(20) : Duration.seconds(5))
      yield* claim(1)
      const stats = yield* s.stats
      expect(stats).toMatchObject({ pending: 2, inFlight: 1, dead: 0 })
      expect(stats.oldestPendingAgeMillis).toBeGreaterThanOrEqual(live ? 0 : 5_000)
    }))

    test("renewing a lease keeps the message from being re-claimed; only its holder can renew", Effect.gen(function*() {
      const [id] = yield* append(message("t", { n: 1 }))
      const claimed = yield* claim(10, shortLease)
      const s = yield* store
      expect(yield* s.renewLease(claimed.token, [String(id)], longLease)).toEqual([id])
      expect(yield* s.renewLease("someone-else", [String(id)], longLease)).toEqual([])
      yield* elapse(Duration.times(shortLease, 2))
      expect((yield* claim(10)).messages).toHaveLength(0)
      expect((yield* s.stats).inFlight).toBe(1)
    }))

    test("fencing: after its lease expired and another claimed the message, the old claimer settles nothing", Effect.gen(function*() {
      const [id] = yield* append(message("t", { n: 1 }))
      const stale = yield* claim(10, shortLease)
      const holder = yield* claimUntilHolding(String(id))
      const messageId = String(id)
      for (const completion of [
        Completion.Ack({ id: messageId }),
        Completion.Retry({ id: messageId, delay: Duration.zero, error: "stale" }),
        Completion.DeadLetter({ id: messageId, reason: "Rejected", error: "stale" }),
        Completion.Release({ id: messageId })
      ]) {
        const report = yield* complete(stale, [completion])
        expect(report).toEqual({ completed: [], fenced: [id] })
      }
      const s = yield* store
      expect(yield* s.stats).toMatchObject({ inFlight: 1, dead: 0 })
      expect(yield* s.renewLease(stale.token, [messageId], longLease)).toEqual([])
      expect(yield* complete(holder, [Completion.Ack({ id: messageId })])).toEqual({ completed: [id], fenced: [] })
      expect(yield* s.unsettled([messageId])).toEqual([])
    }))

    test("completing an unknown id is reported as fenced", Effect.gen(function*() {
      yield* append(message("t", { n: 1 }))
      const claimed = yield* claim(10)
      const report = yield* complete(claimed, [Completion.Ack({ id: "999999999" })])
      expect(report).toEqual({ completed: [], fenced: ["999999999"] })
    }))

    test("an ordered claim hands out each key's head only; the rest of the key waits while it is in flight or retrying", Effect.gen(function*() {
      const [a1, a2, b1, , a3] = yield* append(
        message("t", { n: 1 }, { key: "a" }),
        message("t", { n: 2 }, { key: "a" }),
        message("t", { n: 3 }, { key: "b" }),
        message("t", { n: 4 }),
        message("t", { n: 5 }, { key: "a" }),
        message("t", { n: 6 }, { key: "b" })
      )
      const first = yield* claimOrdered()
      expect(handed(first)).toEqual([["t", "a", 1], ["t", "b", 3], ["t", null, 4]])
      // In flight: nothing more of a or b.
      expect((yield* claimOrdered()).messages).toEqual([])
      const delay = live ? Duration.millis(500) : Duration.seconds(10)
      yield* complete(first, [
        Completion.Retry({ id: String(a1), delay, error: "503" }),
        Completion.Ack({ id: String(b1) }),
        Completion.Ack({ id: first.messages[2]?.id ?? "" })
      ])
      // b moves on; a waits for its head's retry, not skipping to a2.
      const second = yield* claimOrdered()
      expect(handed(second)).toEqual([["t", "b", 6]])
      const retried = yield* claimUntilHolding(String(a1), longLease, "all")
      expect(handed(retried)).toEqual([["t", "a", 1]])
      expect(retried.messages[0]?.attempts).toBe(2)
      yield* complete(retried, [Completion.Ack({ id: String(a1) })])
      const third = yield* claimOrdered()
      expect(third.messages.map((m) => m.id)).toEqual([a2])
      yield* complete(third, [Completion.Ack({ id: String(a2) })])
      expect((yield* claimOrdered()).messages.map((m) => m.id)).toEqual([a3])
    }))

    test("an ordered claim re-hands a head whose lease expired before any later message of its key", Effect.gen(function*() {
      const [a1, a2] = yield* append(message("t", { n: 1 }, { key: "a" }), message("t", { n: 2 }, { key: "a" }))
      yield* Effect.flatMap(store, (s) => s.claim({ batchSize: 10, leaseFor: shortLease, ordered: "all" }))
      const again = yield* claimUntilHolding(String(a1), longLease, "all")
      expect(again.messages.map((m) => [m.id, m.attempts, m.lostClaims])).toEqual([[a1, 1, 1]])
      yield* complete(again, [Completion.Ack({ id: String(a1) })])
      expect((yield* claimOrdered()).messages.map((m) => m.id)).toEqual([a2])
    }))

    test("ordering per topic: keyed messages of the listed topics keep one order per key; other topics flow", Effect.gen(function*() {
      yield* append(
        message("order.created", { n: 1 }, { key: "o-1" }),
        message("audit", { n: 2 }, { key: "o-1" }),
        message("order.paid", { n: 3 }, { key: "o-1" }),
        message("audit", { n: 4 }, { key: "o-1" })
      )
      const claimed = yield* claimOrdered({ topics: ["order.created", "order.paid"] })
      expect(handed(claimed)).toEqual([["order.created", "o-1", 1], ["audit", "o-1", 2], ["audit", "o-1", 4]])
    }))

    test("ordering per topic: a retrying message of an unordered topic holds back nothing of its key", Effect.gen(function*() {
      const [audit] = yield* append(message("audit", { n: 1 }, { key: "o-1" }))
      const first = yield* claimOrdered({ topics: ["order.created"] })
      expect(first.messages.map((m) => m.id)).toEqual([audit])
      yield* complete(first, [Completion.Retry({ id: String(audit), delay: Duration.hours(1), error: "503" })])
      const [created] = yield* append(message("order.created", { n: 2 }, { key: "o-1" }))
      const claimed = yield* claimOrdered({ topics: ["order.created"] })
      expect(claimed.messages.map((m) => m.id)).toEqual([created])
    }))

    test("concurrent ordered claims never hand out two messages of one key", Effect.gen(function*() {
      const keys = Array.from({ length: 12 }, (_, k) => `k-${k}`)
      yield* append(...[0, 1, 2, 3].flatMap((n) => keys.map((key) => message("t", { n }, { key }))))
      const claims = yield* Effect.all(Array.from({ length: 4 }, () => claimOrdered("all", 5)), {
        concurrency: "unbounded"
      })
      const claimed = claims.flatMap((c) => c.messages)
      expect(claimed).toHaveLength(keys.length)
      expect(new Set(claimed.map((m) => m.key)).size).toBe(claimed.length)
      expect(claimed.every((m) => (m.payload as { readonly n: number }).n === 0)).toBe(true)
    }))

    test("a dead letter that parks its key holds the key back until it is replayed; one that does not lets it move on", Effect.gen(function*() {
      const [a1, a2, b1, b2] = yield* append(
        message("t", { n: 1 }, { key: "a" }),
        message("t", { n: 2 }, { key: "a" }),
        message("t", { n: 3 }, { key: "b" }),
        message("t", { n: 4 }, { key: "b" })
      )
      const first = yield* claimOrdered()
      yield* complete(first, [
        Completion.DeadLetter({ id: String(a1), reason: "Rejected", error: "422 unknown customer", parkKey: true }),
        Completion.DeadLetter({ id: String(b1), reason: "Rejected", error: "422", parkKey: false })
      ])
      expect((yield* claimOrdered()).messages.map((m) => m.id)).toEqual([b2])
      const s = yield* store
      const parked = yield* s.deadLetters.parkedKeys()
      expect(parked.map((p) => [p.key, p.messageId, p.topic, p.reason, p.lastError])).toEqual([
        ["a", a1, "t", "Rejected", "422 unknown customer"]
      ])
      expect(parked[0]?.since).toBeInstanceOf(Date)
      expect((yield* s.stats).parkedKeys).toBe(1)
      expect((yield* s.deadLetters.list({})).map((l) => [l.id, l.parksKey])).toEqual([[a1, true], [b1, false]])
      // Unordered claims do not honour parking.
      expect((yield* claim(10)).messages.map((m) => m.id)).toEqual([a2])
    }))

    test("replaying a parking dead letter makes it the key's head again; purging one lets the key move on", Effect.gen(function*() {
      const [a1, a2, a3] = yield* append(
        message("t", { n: 1 }, { key: "a" }),
        message("t", { n: 2 }, { key: "a" }),
        message("t", { n: 3 }, { key: "a" })
      )
      const s = yield* store
      yield* complete(yield* claimOrdered(), [Completion.DeadLetter({ id: String(a1), reason: "Exhausted", error: "e", parkKey: true })])
      expect((yield* claimOrdered()).messages).toEqual([])
      expect(yield* s.deadLetters.replay({ ids: [String(a1)] })).toBe(1)
      expect((yield* s.stats).parkedKeys).toBe(0)
      const replayed = yield* claimOrdered()
      expect(replayed.messages.map((m) => m.id)).toEqual([a1])
      yield* complete(replayed, [Completion.DeadLetter({ id: String(a1), reason: "Exhausted", error: "e", parkKey: true })])
      expect((yield* claimOrdered()).messages).toEqual([])
      expect(yield* s.deadLetters.purge({ ids: [String(a1)] })).toBe(1)
      expect(yield* s.deadLetters.parkedKeys()).toEqual([])
      const next = yield* claimOrdered()
      expect(next.messages.map((m) => m.id)).toEqual([a2])
      yield* complete(next, [Completion.Ack({ id: String(a2) })])
      expect((yield* claimOrdered()).messages.map((m) => m.id)).toEqual([a3])
    }))

    test("wakeups emit after messages are appended", Effect.gen(function*() {
      const s = yield* store
      const woken = yield* s.wakeups.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      // A subscription may take a moment to be in place (LISTEN is asynchronous):
      // keep appending until the wake-up arrives, with a deadline.
      for (let tries = 0; tries < 100; tries++) {
        yield* append(message("t", { n: tries }))
        const done = yield* Fiber.poll(woken)
        if (done._tag === "Some") break
        yield* elapse(step)
      }
      const wakeups = yield* Fiber.join(woken).pipe(Effect.timeout(Duration.seconds(5)))
      expect(Chunk.size(wakeups)).toBe(1)
    }))
  })
}
