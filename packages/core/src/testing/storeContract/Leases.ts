/**
 * Leases and fencing: an expired lease frees the message (a lost claim, not a failed send), its holder can renew it, and a claimer whose lease was lost settles nothing.
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
export const register = ({ shortLease, longLease, step, elapse, test, store, claim, append, complete, claimUntilHolding, message }: Harness): void => {
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

  test("renewing a lease keeps the message from being re-claimed; only its holder can renew", Effect.gen(function*() {
    const [id] = yield* append(message("t", { n: 1 }))
    const claimed = yield* claim(10, shortLease)
    const s = yield* store
    expect(yield* s.renewLease(claimed.token, [String(id)], longLease)).toEqual([id])
    expect(yield* s.renewLease("someone-else", [String(id)], longLease)).toEqual([])
    // Past the first lease (it began before the renewal), not past the renewed one.
    yield* elapse(Duration.sum(shortLease, step))
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
}
