/**
 * What a store tells without a claim: stats, when the next delayed message comes due, and wake-ups after an append.
 *
 * @since 0.1.0
 */
import { expect } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Harness } from "./Harness.js"

/**
 * Registers this group's tests (inside the suite's `describe`).
 *
 * @category testing
 * @since 0.1.0
 */
export const register = ({ live, step, elapse, test, store, claim, append, message }: Harness): void => {
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
}
