import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { OrdersDemo } from "@effect-outbox/node"

describe("outbox demo", () => {
  it.live("publishes, delivers through a flaky receiver, and checks every message arrived", () =>
    Effect.gen(function*() {
      const lines = yield* Ref.make<ReadonlyArray<string>>([])
      const summary = yield* OrdersDemo.run({
        messages: 40,
        failureRate: 0.3,
        rejectRate: 0.1,
        output: (line) => Ref.update(lines, (all) => [...all, line])
      })
      expect(summary.ok, summary.problems.join("; ")).toBe(true)
      expect(summary.published).toBe(40)
      expect(summary.delivered + summary.rejected).toBe(40)
      expect(summary.rejected).toBeGreaterThan(0)
      expect(summary.retries).toBeGreaterThan(0)
      expect(summary.duplicates).toBe(0)
      const output = (yield* Ref.get(lines)).join("\n")
      expect(output).toContain("published 40/40")
      expect(output).toContain("check            every published message was delivered at least once or rejected: OK")
      expect(output).not.toContain("whsec_")
    }), 60_000)
})
