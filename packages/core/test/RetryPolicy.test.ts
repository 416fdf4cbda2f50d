import { RetryPolicy } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Random, Schedule } from "effect"

const decideAll = (policy: RetryPolicy.RetryPolicy, attempts: number) =>
  Effect.forEach(Array.from({ length: attempts }, (_, i) => i + 1), (attempt) =>
    Effect.map(RetryPolicy.decide(policy, { attempt, topic: "t", error: "boom" }), (decision) =>
      decision._tag === "Retry" ? Duration.toMillis(decision.delay) : "dead"))

describe("RetryPolicy", () => {
  it.effect("fixed waits the same before every retry and dead-letters after maxAttempts", () =>
    Effect.gen(function*() {
      expect(yield* decideAll(RetryPolicy.fixed({ delay: "2 seconds", maxAttempts: 4 }), 5)).toEqual([
        2000, 2000, 2000, "dead", "dead"
      ])
    }))

  it.effect("exponential waits base * 2^(n-1), capped", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.exponential({ base: "1 second", cap: "10 seconds", maxAttempts: 7 })
      expect(yield* decideAll(policy, 7)).toEqual([1000, 2000, 4000, 8000, 10000, 10000, "dead"])
    }))

  it.effect("full-jitter exponential draws each wait from [0, min(cap, base * 2^(n-1)))", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.exponentialJitter({ base: "1 second", cap: "4 seconds", maxAttempts: 5 })
      // Random.fixed replays these draws in [0, 1): 0.5 of each bound, then 0.25, ...
      const delays = yield* decideAll(policy, 5).pipe(Effect.withRandom(Random.fixed([0.5])))
      expect(delays).toEqual([500, 1000, 2000, 2000, "dead"])
      const low = yield* decideAll(policy, 4).pipe(Effect.withRandom(Random.fixed([0])))
      expect(low).toEqual([0, 0, 0, 0])
    }))

  it.effect("the default policy makes 10 attempts, each wait within its bound", () =>
    Effect.gen(function*() {
      const delays = yield* decideAll(RetryPolicy.defaultPolicy, 10)
      expect(delays[9]).toBe("dead")
      delays.slice(0, 9).forEach((delay, i) => {
        expect(typeof delay).toBe("number")
        expect(delay as number).toBeLessThan(Math.min(300_000, 1000 * 2 ** i))
      })
    }))

  it.effect("any Schedule is a policy: recurs(2) retries twice", () =>
    Effect.gen(function*() {
      expect(yield* decideAll(Schedule.recurs(2), 3)).toEqual([0, 0, "dead"])
      expect(yield* decideAll(RetryPolicy.never, 1)).toEqual(["dead"])
    }))

  it("byTopic chooses per topic, with a fallback", () => {
    const slow = RetryPolicy.fixed({ delay: "1 minute" })
    const select = RetryPolicy.byTopic({ "billing.charge": slow }, RetryPolicy.never)
    expect(select("billing.charge")).toBe(slow)
    expect(select("other")).toBe(RetryPolicy.never)
  })
})
