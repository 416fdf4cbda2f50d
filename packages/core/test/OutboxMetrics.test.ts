import { OutboxMetrics } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"

describe("OutboxMetrics", () => {
  it.effect("observeStats sets the five store gauges from one stats snapshot", () =>
    Effect.gen(function*() {
      yield* OutboxMetrics.observeStats({ pending: 7, inFlight: 3, dead: 2, parkedKeys: 1, oldestPendingAgeMillis: 1_500 })
      const value = (gauge: typeof OutboxMetrics.pending) => Effect.map(Metric.value(gauge), (state) => state.value)
      expect(yield* value(OutboxMetrics.pending)).toBe(7)
      expect(yield* value(OutboxMetrics.inFlight)).toBe(3)
      expect(yield* value(OutboxMetrics.deadLetters)).toBe(2)
      expect(yield* value(OutboxMetrics.parkedKeys)).toBe(1)
      expect(yield* value(OutboxMetrics.oldestPendingAge)).toBe(1.5)
      yield* OutboxMetrics.observeStats({ pending: 0, inFlight: 0, dead: 0, parkedKeys: 0, oldestPendingAgeMillis: null })
      expect(yield* value(OutboxMetrics.oldestPendingAge)).toBe(0)
    }))
})
