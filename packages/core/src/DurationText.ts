/**
 * The one way a duration is written as text: in the runner's environment
 * variables and flags (`OUTBOX_LEASE=30s`, `--older-than 7d`), the admin
 * API's query strings and `RelayConfig`.
 *
 * Grammar: a non-negative number, then a unit, with or without a space
 * between them. A bare number is **seconds** (`90` = 90 s). Units:
 * `ns`/`nanos`, `us`/`micros`, `ms`/`millis`/`milliseconds`,
 * `s`/`sec`/`seconds`, `m`/`min`/`minutes`, `h`/`hr`/`hours`, `d`/`days`,
 * `w`/`weeks` (singular spellings too; case does not matter). Decimals are
 * allowed (`1.5h`). Anything else, including a negative or infinite
 * duration, is not a duration.
 *
 * @example
 * import { DurationText } from "@effect-outbox/core"
 * import { Duration, Option } from "effect"
 *
 * Option.map(DurationText.parse("7d"), Duration.toHours) // Option.some(168)
 * DurationText.parse("90")   // Option.some(90 seconds)
 * DurationText.parse("soon") // Option.none()
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

const millisPer: Readonly<Record<string, number>> = (() => {
  const units: ReadonlyArray<readonly [number, ReadonlyArray<string>]> = [
    [1e-6, ["ns", "nano", "nanos", "nanosecond", "nanoseconds"]],
    [1e-3, ["us", "micro", "micros", "microsecond", "microseconds"]],
    [1, ["ms", "milli", "millis", "millisecond", "milliseconds"]],
    [1_000, ["s", "sec", "secs", "second", "seconds"]],
    [60_000, ["m", "min", "mins", "minute", "minutes"]],
    [3_600_000, ["h", "hr", "hrs", "hour", "hours"]],
    [86_400_000, ["d", "day", "days"]],
    [604_800_000, ["w", "week", "weeks"]]
  ]
  return Object.fromEntries(units.flatMap(([millis, names]) => names.map((name) => [name, millis])))
})()

/**
 * Examples of the grammar, for error messages and help texts.
 *
 * @category constants
 * @since 0.1.0
 */
export const examples = "90 (seconds), 15m, 2h or 7d"

/**
 * Parses a duration written as text (see the module's grammar); `None` when it is not one.
 *
 * @category utils
 * @since 0.1.0
 */
export const parse = (text: string): Option.Option<Duration.Duration> => {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text.trim().toLowerCase())
  if (match === null) return Option.none()
  const [, amount = "", unit = ""] = match
  const millis = unit === "" ? 1_000 : millisPer[unit]
  if (millis === undefined) return Option.none()
  return Option.some(Duration.millis(Number(amount) * millis))
}

/**
 * A `Config` of one duration in this grammar. A value that is not one fails
 * as invalid data naming the variable and showing `examples`.
 *
 * @category config
 * @since 0.1.0
 */
export const config = (name: string): Config.Config<Duration.Duration> =>
  Config.mapOrFail(Config.string(name), (text) =>
    Option.match(parse(text), {
      onNone: () =>
        Either.left(ConfigError.InvalidData([], `got ${JSON.stringify(text)}; expected a duration such as ${examples}`)),
      onSome: Either.right
    }))
