/**
 * Dead letters: what they keep, how the list filters them, and replay and purge.
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
export const register = ({ test, store, claim, append, complete, message }: Harness): void => {
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
}
