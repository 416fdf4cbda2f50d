/**
 * Ordered claims: one message per key in flight, in id order, per topic when asked; a dead letter that parks its key holds the key back until it is replayed or purged.
 *
 * @since 0.1.0
 */
import { expect } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Completion } from "../../OutboxStore.js"
import type { Harness } from "./Harness.js"

/**
 * Registers this group's tests (inside the suite's `describe`).
 *
 * @category testing
 * @since 0.1.0
 */
export const register = ({ live, liveWait, shortLease, longLease, test, store, claim, claimOrdered, handed, append, complete, claimUntilHolding, message }: Harness): void => {
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
    const delay = live ? liveWait : Duration.seconds(10)
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
}
