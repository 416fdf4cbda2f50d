/**
 * Retry policies are Effect `Schedule`s over failed attempts. They are evaluated
 * statelessly from the stored attempt count, so a retry decision survives
 * restarts and moves between relays: the schedule is stepped `attempts` times
 * from its initial state; if it is done by then, the message is dead-lettered
 * (`Exhausted`), otherwise the last step's delay is the wait before the next try.
 *
 * Time-based combinators (`upTo`, `elapsed`) see no time passing between the
 * replayed steps: bound policies by attempts (`Schedule.recurs`) instead.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"

/**
 * What a schedule sees on each step: the attempt that just failed and its error.
 *
 * @category models
 * @since 0.1.0
 */
export interface FailedAttempt {
  readonly attempt: number
  readonly topic: string
  readonly error: string
}

/**
 * A retry policy: any schedule that accepts failed attempts (most schedules accept anything).
 *
 * @category models
 * @since 0.1.0
 */
export type RetryPolicy = Schedule.Schedule<unknown, FailedAttempt>

/**
 * Chooses a policy per topic.
 *
 * @category models
 * @since 0.1.0
 */
export type Selector = (topic: string) => RetryPolicy

/**
 * What to do after a failed attempt.
 *
 * @category models
 * @since 0.1.0
 */
export type Decision = Data.TaggedEnum<{
  Retry: { readonly delay: Duration.Duration }
  Exhausted: {}
}>

/**
 * Constructors and matchers for `Decision`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const Decision = Data.taggedEnum<Decision>()

/**
 * The most steps `decide` replays. A schedule still going after this many
 * failed attempts is treated as going on forever: its delay at this step is
 * the delay for every later attempt (a cap, not a count, is what such a
 * schedule can have by then). It bounds the work for a huge stored count.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxReplayedSteps = 10_000

/**
 * Decides what follows the failure of attempt number `failed.attempt` (1-based):
 * the schedule is stepped that many times (at most `maxReplayedSteps`); done means `Exhausted`.
 *
 * @category operations
 * @since 0.1.0
 */
export const decide = (policy: RetryPolicy, failed: FailedAttempt): Effect.Effect<Decision> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    let state = policy.initial
    let delayMillis = 0
    for (let step = 1; step <= Math.min(maxReplayedSteps, Math.max(1, failed.attempt)); step++) {
      const [next, , decision] = yield* policy.step(now, { ...failed, attempt: step }, state)
      if (ScheduleDecision.isDone(decision)) return Decision.Exhausted()
      state = next
      delayMillis = Math.max(0, ScheduleIntervals.start(decision.intervals) - now)
    }
    return Decision.Retry({ delay: Duration.millis(delayMillis) })
  })

/**
 * Options of the built-in exponential policies.
 *
 * @category models
 * @since 0.1.0
 */
export interface ExponentialOptions {
  /** The first retry's (maximum) delay. Default 1 second. */
  readonly base?: Duration.DurationInput | undefined
  /** No retry waits longer than this. Default 5 minutes. */
  readonly cap?: Duration.DurationInput | undefined
  /** Total delivery attempts, the first included, before dead-lettering. Default 10. */
  readonly maxAttempts?: number | undefined
}

const withMaxAttempts = (policy: RetryPolicy, maxAttempts: number): RetryPolicy =>
  Schedule.intersect(policy, Schedule.recurs(Math.max(0, maxAttempts - 1)))

const capped = (options: ExponentialOptions): RetryPolicy =>
  Schedule.union(
    Schedule.exponential(options.base ?? Duration.seconds(1)),
    Schedule.spaced(options.cap ?? Duration.minutes(5))
  )

/**
 * Full-jitter exponential backoff, the default: retry n (1-based) waits a random
 * time in `[0, min(cap, base * 2^(n-1)))`, which spreads a burst of failures
 * over time. Randomness comes from Effect's `Random`, so tests can fix it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const exponentialJitter = (options: ExponentialOptions = {}): RetryPolicy =>
  withMaxAttempts(
    Schedule.modifyDelayEffect(capped(options), (_, delay) =>
      Effect.map(Random.nextRange(0, Duration.toMillis(delay)), (millis) => Duration.millis(Math.floor(millis)))),
    options.maxAttempts ?? 10
  )

/**
 * Plain exponential backoff: retry n (1-based) waits `min(cap, base * 2^(n-1))`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const exponential = (options: ExponentialOptions = {}): RetryPolicy =>
  withMaxAttempts(capped(options), options.maxAttempts ?? 10)

/**
 * The same wait before every retry.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fixed = (options: {
  readonly delay: Duration.DurationInput
  readonly maxAttempts?: number | undefined
}): RetryPolicy => withMaxAttempts(Schedule.spaced(options.delay), options.maxAttempts ?? 10)

/**
 * Never retries: the first failure dead-letters.
 *
 * @category constructors
 * @since 0.1.0
 */
export const never: RetryPolicy = Schedule.stop

/**
 * The default policy: `exponentialJitter()` (1 s base, 5 min cap, 10 attempts).
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultPolicy: RetryPolicy = exponentialJitter()

/**
 * A policy per topic, with a fallback for the others.
 *
 * @category constructors
 * @since 0.1.0
 */
export const byTopic = (policies: Readonly<Record<string, RetryPolicy>>, fallback: RetryPolicy = defaultPolicy): Selector =>
(topic) => policies[topic] ?? fallback
