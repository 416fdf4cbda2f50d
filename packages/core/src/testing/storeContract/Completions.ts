/**
 * Settling a claim: ack removes the message, retry keeps it until its delay (with the error), release hands it back without spending an attempt.
 *
 * @since 0.1.0
 */
import { expect } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { Completion } from "../../OutboxStore.js"
import type { Harness } from "./Harness.js"

/**
 * Registers this group's tests (inside the suite's `describe`).
 *
 * @category testing
 * @since 0.1.0
 */
export const register = ({ live, liveWait, test, store, claim, append, complete, claimUntilHolding, message }: Harness): void => {
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
    const delay = live ? liveWait : Duration.seconds(10)
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
}
