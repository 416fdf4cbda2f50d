import { DurationText, RetryPolicy } from "@effect-outbox/core"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** Parses a duration in core's `DurationText` grammar (`90` = seconds, `500ms`, `2 minutes`, `7d`); `undefined` when it is not one. */
export const parseDuration = (text: string): Duration.Duration | undefined => Option.getOrUndefined(DurationText.parse(text))

/** A retry policy, or why the text is not one (the problem, as shown after the setting's name). */
export type RetryParse = { readonly policy: RetryPolicy.RetryPolicy } | { readonly problem: string }

/** Parses the retry grammar of `OUTBOX_RETRY`, saying what is wrong when it is not valid. */
export const parseRetryOrProblem = (text: string): RetryParse => {
  const given = { problem: `got ${JSON.stringify(text)}` }
  const [kind = "", rest] = text.trim().split(":", 2)
  const options = new Map<string, string>()
  for (const pair of (rest ?? "").split(",").filter((part) => part.length > 0)) {
    const [key, value] = pair.split("=", 2)
    if (key === undefined || value === undefined) return given
    options.set(key.trim(), value.trim())
  }
  const known = (...keys: Array<string>) => [...options.keys()].every((key) => keys.includes(key))
  const durationOf = (key: string) => (options.has(key) ? parseDuration(options.get(key) ?? "") : null)
  const attemptsText = options.get("attempts") ?? "10"
  // Digits only: `1e3` or `10.0` is a typo more often than a count.
  if (!/^\d+$/.test(attemptsText) || Number(attemptsText) < 1) {
    return { problem: `got ${JSON.stringify(text)} (attempts must be a whole number of at least 1)` }
  }
  const attempts = Number(attemptsText)
  const base = durationOf("base")
  const cap = durationOf("cap")
  if (base === undefined || cap === undefined) return given
  switch (kind) {
    case "none":
      return options.size === 0 ? { policy: RetryPolicy.never } : given
    case "exponential-jitter":
    case "exponential": {
      if (!known("base", "cap", "attempts")) return given
      const effectiveBase = base ?? Duration.seconds(1)
      const effectiveCap = cap ?? Duration.minutes(5)
      if (Duration.toMillis(effectiveBase) <= 0) return { problem: `got ${JSON.stringify(text)} (base must be above zero)` }
      if (Duration.lessThan(effectiveCap, effectiveBase)) {
        return { problem: `got ${JSON.stringify(text)} (cap ${Duration.format(effectiveCap)} is below base ${Duration.format(effectiveBase)})` }
      }
      const build = kind === "exponential" ? RetryPolicy.exponential : RetryPolicy.exponentialJitter
      return { policy: build({ base: effectiveBase, cap: effectiveCap, maxAttempts: attempts }) }
    }
    case "fixed": {
      const delay = durationOf("delay")
      if (!known("delay", "attempts") || delay === null || delay === undefined) return given
      return { policy: RetryPolicy.fixed({ delay, maxAttempts: attempts }) }
    }
    default:
      return given
  }
}

/** Parses the retry grammar of `OUTBOX_RETRY` into a policy; `undefined` when it is not valid. */
export const parseRetry = (text: string): RetryPolicy.RetryPolicy | undefined => {
  const parsed = parseRetryOrProblem(text)
  return "policy" in parsed ? parsed.policy : undefined
}

const truthy = new Set(["true", "yes", "on", "1"])
const falsy = new Set(["false", "no", "off", "0"])

/** Parses a boolean in its usual spellings (true/false, yes/no, on/off, 1/0); `undefined` otherwise. */
export const parseBoolean = (text: string): boolean | undefined => {
  const lower = text.trim().toLowerCase()
  return truthy.has(lower) ? true : falsy.has(lower) ? false : undefined
}

/**
 * Parses `OUTBOX_ORDERED`: a boolean (every topic, or unordered) in its usual
 * spellings, or comma-separated topic names; `undefined` when it is none of
 * these (an empty name, or a boolean spelling among topic names).
 */
export const parseOrdered = (text: string): boolean | ReadonlyArray<string> | undefined => {
  const flag = parseBoolean(text)
  if (flag !== undefined) return flag
  const topics = text.trim().split(",").map((topic) => topic.trim())
  // A topic called "true" or "yes" is far more likely a typo in a list than a real topic.
  return topics.some((topic) => topic.length === 0 || parseBoolean(topic) !== undefined) ? undefined : topics
}

/** A plain SQL identifier: a letter or underscore, then letters, digits or underscores, at most 63 bytes. */
export const isIdentifier = (text: string): boolean => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(text)
