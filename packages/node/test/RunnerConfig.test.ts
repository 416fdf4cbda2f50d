import { RetryPolicy } from "@effect-outbox/core"
import { RunnerConfig } from "@effect-outbox/node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, Redacted } from "effect"
import { readFileSync } from "node:fs"

const withFlags = (flags: RunnerConfig.Flags) => <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.withConfigProvider(effect, RunnerConfig.providerFor(flags))

describe("RunnerConfig", () => {
  it.effect("defaults apply; a flag wins over the environment", () =>
    Effect.gen(function*() {
      const relay = yield* RunnerConfig.relay.pipe(withFlags({ batchSize: "250" }))
      expect(relay.batchSize).toBe(250)
      expect(Duration.toMillis(relay.pollInterval)).toBe(1_000)
      expect(relay.leadership).toBe("always")
      const database = yield* RunnerConfig.database.pipe(withFlags({}))
      expect(database).toMatchObject({ dataDir: ".outbox", schema: "public", tablePrefix: "outbox" })
      expect(Option.isNone(database.url)).toBe(true)
    }))

  it.effect("secrets come back redacted", () =>
    Effect.gen(function*() {
      const sender = yield* RunnerConfig.sender.pipe(
        withFlags({ sender: "https://u:p4ss@hooks.example/x", signingSecret: "whsec_abc" })
      )
      expect(String(sender.url)).not.toContain("p4ss")
      expect(Redacted.value(sender.url)).toBe("https://u:p4ss@hooks.example/x")
    }))

  it.effect("a bad value fails with one line naming the setting and the expected form", () =>
    Effect.gen(function*() {
      const error = yield* RunnerConfig.relay.pipe(withFlags({ concurrency: "0" }), Effect.flip)
      expect(error.message).toBe(`Invalid OUTBOX_CONCURRENCY (--concurrency): got "0"; expected an integer from 1 to 64`)
      const port = yield* RunnerConfig.http.pipe(withFlags({ httpPort: "70000" }), Effect.flip)
      expect(port.message).toContain("OUTBOX_HTTP_PORT")
      expect((yield* RunnerConfig.http.pipe(withFlags({ httpPort: "off" }))).port).toBeUndefined()
    }))

  it("durations and the retry grammar parse, and nonsense does not", () => {
    expect(Duration.toMillis(RunnerConfig.parseDuration("500ms") ?? Duration.zero)).toBe(500)
    expect(Duration.toMillis(RunnerConfig.parseDuration("1.5h") ?? Duration.zero)).toBe(5_400_000)
    expect(RunnerConfig.parseDuration("soon")).toBeUndefined()
    expect(RunnerConfig.parseRetry("none")).toBe(RetryPolicy.never)
    for (const good of ["exponential-jitter", "exponential:base=100ms,cap=10s,attempts=3", "fixed:delay=5s,attempts=2"]) {
      expect(RunnerConfig.parseRetry(good), good).toBeDefined()
    }
    for (const bad of ["forever", "fixed", "fixed:attempts=3", "exponential:base=fast", "exponential:attempts=0", "exponential:jitter=1"]) {
      expect(RunnerConfig.parseRetry(bad), bad).toBeUndefined()
    }
  })

  it.effect("a parsed fixed policy retries per its delay and gives up after its attempts", () =>
    Effect.gen(function*() {
      const policy = RunnerConfig.parseRetry("fixed:delay=5s,attempts=2")
      if (policy === undefined) return expect.unreachable()
      const first = yield* RetryPolicy.decide(policy, { attempt: 1, topic: "t", error: "e" })
      const second = yield* RetryPolicy.decide(policy, { attempt: 2, topic: "t", error: "e" })
      expect(first).toEqual(RetryPolicy.Decision.Retry({ delay: Duration.millis(5_000) }))
      expect(second._tag).toBe("Exhausted")
    }))

  it("the README documents every setting", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    for (const setting of Object.values(RunnerConfig.settings) as Array<RunnerConfig.Setting>) {
      expect(readme, setting.env).toContain(`| \`${setting.env}\` | \`--${setting.flag}\` |`)
    }
  })
})
