import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/**
 * How long an idle relay sleeps: until the next message comes due, or the
 * poll interval, whichever is sooner. At least a millisecond, so a message due
 * in a fraction of one is claimed after it, not just before (which would only
 * ask again).
 */
export const untilNext = (
  pollInterval: Duration.Duration,
  nextDue: Option.Option<Duration.Duration>
): Duration.Duration =>
  Option.match(nextDue, {
    onNone: () => pollInterval,
    onSome: (due) => Duration.min(pollInterval, Duration.millis(Math.max(1, Math.ceil(Duration.toMillis(due)))))
  })
