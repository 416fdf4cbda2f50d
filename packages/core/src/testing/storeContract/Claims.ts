/**
 * Claiming: what a claim hands out, in which order, how many, to whom (never one message to two claimers), and when (not before a delay; first attempts first when asked).
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
export const register = ({ live, liveWait, longLease, test, claim, append, complete, claimUntilHolding, message }: Harness): void => {
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

  test("a delayed message is not claimable before its delay", Effect.gen(function*() {
    const delay = live ? liveWait : Duration.seconds(5)
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
}
