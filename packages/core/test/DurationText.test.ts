import { DurationText } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option } from "effect"

const millisOf = (text: string) => Option.map(DurationText.parse(text), Duration.toMillis)

describe("DurationText", () => {
  it("a bare number is seconds; a unit may follow with or without a space, in any case", () => {
    expect(millisOf("90")).toEqual(Option.some(90_000))
    expect(millisOf("0")).toEqual(Option.some(0))
    expect(millisOf("1.5")).toEqual(Option.some(1_500))
    expect(millisOf("500ms")).toEqual(Option.some(500))
    expect(millisOf("30s")).toEqual(Option.some(30_000))
    expect(millisOf("15m")).toEqual(Option.some(900_000))
    expect(millisOf("1.5h")).toEqual(Option.some(5_400_000))
    expect(millisOf("1d")).toEqual(Option.some(86_400_000))
    expect(millisOf("7d")).toEqual(Option.some(604_800_000))
    expect(millisOf("1w")).toEqual(Option.some(604_800_000))
    expect(millisOf("2 minutes")).toEqual(Option.some(120_000))
    expect(millisOf("10 Seconds")).toEqual(Option.some(10_000))
    expect(millisOf(" 1 day ")).toEqual(Option.some(86_400_000))
    expect(millisOf("1 sec")).toEqual(Option.some(1_000))
    expect(millisOf("250 millis")).toEqual(Option.some(250))
  })

  it("anything else is not a duration", () => {
    for (const bad of ["", "soon", "-5s", "5 parsecs", "1e3", "Infinity", "1h30m", "s", "1..5s", "5 s s"]) {
      expect(DurationText.parse(bad), JSON.stringify(bad)).toEqual(Option.none())
    }
  })

  it.effect("as a Config: reads the variable, and a bad value names it and shows an example", () =>
    Effect.gen(function*() {
      const read = (value: string) =>
        Effect.withConfigProvider(
          DurationText.config("OUTBOX_LEASE"),
          ConfigProvider.fromMap(new Map([["OUTBOX_LEASE", value]]))
        )
      expect(Duration.toMillis(yield* read("1d"))).toBe(86_400_000)
      expect(Duration.toMillis(yield* read("30"))).toBe(30_000)
      const error = yield* Effect.flip(read("soon"))
      expect(String(error)).toContain("OUTBOX_LEASE")
      expect(String(error)).toContain(`got "soon"; expected a duration such as 90 (seconds), 15m, 2h or 7d`)
    }))
})
