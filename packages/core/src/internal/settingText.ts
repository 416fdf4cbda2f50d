// Parsers of the relay's settings as text (environment variables, flags).
// Each returns the value, or the problem as shown after the setting's name:
// `got "<text>"`, with why in parentheses when that helps.
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as DurationText from "../DurationText.js"
import * as RetryPolicy from "../RetryPolicy.js"

/** A value, or the problem with the text. */
export type Parsed<A> = Either.Either<A, string>

const got = (text: string, why?: string): Parsed<never> =>
  Either.left(`got ${JSON.stringify(text)}${why === undefined ? "" : ` (${why})`}`)

/** A whole number from `min` to `max`, digits only. */
export const integer = (min: number, max: number) => (text: string): Parsed<number> => {
  const value = Number(text)
  return /^\d+$/.test(text.trim()) && value >= min && value <= max ? Either.right(value) : got(text)
}

/** A duration in `DurationText`'s grammar; zero only where it has a meaning (`allowZero`). */
export const duration = (options: { readonly allowZero?: boolean } = {}) => (text: string): Parsed<Duration.Duration> =>
  Option.match(DurationText.parse(text), {
    onNone: () => got(text),
    onSome: (value) =>
      options.allowZero !== true && Duration.toMillis(value) <= 0 ? got(text, "zero cannot work here") : Either.right(value)
  })

/** One of the given words, exactly. */
export const oneOf = <const A extends string>(...values: ReadonlyArray<A>) => (text: string): Parsed<A> => {
  const value = values.find((candidate) => candidate === text)
  return value === undefined ? got(text) : Either.right(value)
}

const truthy = new Set(["true", "yes", "on", "1"])
const falsy = new Set(["false", "no", "off", "0"])

/** A boolean in its usual spellings (true/false, yes/no, on/off, 1/0); `undefined` otherwise. */
export const parseBoolean = (text: string): boolean | undefined => {
  const lower = text.trim().toLowerCase()
  return truthy.has(lower) ? true : falsy.has(lower) ? false : undefined
}

/**
 * `ordered`: a boolean (every topic, or unordered) in its usual spellings, or
 * comma-separated topic names; `undefined` when it is none of these (an empty
 * name, or a boolean spelling among topic names).
 */
export const parseOrdered = (text: string): boolean | ReadonlyArray<string> | undefined => {
  const flag = parseBoolean(text)
  if (flag !== undefined) return flag
  const topics = text.trim().split(",").map((topic) => topic.trim())
  // A topic called "true" or "yes" is far more likely a typo in a list than a real topic.
  return topics.some((topic) => topic.length === 0 || parseBoolean(topic) !== undefined) ? undefined : topics
}

/** `ordered`, as a parser. */
export const ordered = (text: string): Parsed<boolean | ReadonlyArray<string>> => {
  const value = parseOrdered(text)
  return value === undefined ? got(text) : Either.right(value)
}

/** The retry grammar: `exponential-jitter[:base=1s,cap=5m,attempts=10]`, `exponential[:…]`, `fixed:delay=5s[,attempts=10]` or `none`. */
export const retry = (text: string): Parsed<RetryPolicy.RetryPolicy> => {
  const [kind = "", rest] = text.trim().split(":", 2)
  const options = new Map<string, string>()
  for (const pair of (rest ?? "").split(",").filter((part) => part.length > 0)) {
    const [key, value] = pair.split("=", 2)
    if (key === undefined || value === undefined) return got(text)
    options.set(key.trim(), value.trim())
  }
  const known = (...keys: Array<string>) => [...options.keys()].every((key) => keys.includes(key))
  const durationOf = (key: string) => (options.has(key) ? Option.getOrUndefined(DurationText.parse(options.get(key) ?? "")) : null)
  const attemptsText = options.get("attempts") ?? "10"
  // Digits only: `1e3` or `10.0` is a typo more often than a count.
  if (!/^\d+$/.test(attemptsText) || Number(attemptsText) < 1) return got(text, "attempts must be a whole number of at least 1")
  const attempts = Number(attemptsText)
  const base = durationOf("base")
  const cap = durationOf("cap")
  if (base === undefined || cap === undefined) return got(text)
  switch (kind) {
    case "none":
      return options.size === 0 ? Either.right(RetryPolicy.never) : got(text)
    case "exponential-jitter":
    case "exponential": {
      if (!known("base", "cap", "attempts")) return got(text)
      const effectiveBase = base ?? Duration.seconds(1)
      const effectiveCap = cap ?? Duration.minutes(5)
      if (Duration.toMillis(effectiveBase) <= 0) return got(text, "base must be above zero")
      if (Duration.lessThan(effectiveCap, effectiveBase)) {
        return got(text, `cap ${Duration.format(effectiveCap)} is below base ${Duration.format(effectiveBase)}`)
      }
      const build = kind === "exponential" ? RetryPolicy.exponential : RetryPolicy.exponentialJitter
      return Either.right(build({ base: effectiveBase, cap: effectiveCap, maxAttempts: attempts }))
    }
    case "fixed": {
      const delay = durationOf("delay")
      if (!known("delay", "attempts") || delay === null || delay === undefined) return got(text)
      return Either.right(RetryPolicy.fixed({ delay, maxAttempts: attempts }))
    }
    default:
      return got(text)
  }
}
