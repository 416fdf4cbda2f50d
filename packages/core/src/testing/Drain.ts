/**
 * Waiting for the relay to finish, without sleeps in tests: poll the store
 * until it is drained (or given messages are settled), with a deadline.
 *
 * Under `TestClock` (`it.effect`), pass `clock: "test"`: each poll moves the
 * test clock one `step` forward, so the relay's polls, leases and retry
 * delays come due. With real time (`it.live`, a real database), each poll
 * waits `step` of real time, up to `timeout`.
 *
 * @example
 * import { Effect } from "effect"
 * import { Drain } from "@effect-outbox/core/testing"
 *
 * declare const ids: ReadonlyArray<string>
 *
 * const program = Effect.gen(function*() {
 *   const stats = yield* Drain.untilDrained({ clock: "test" })
 *   yield* Drain.untilSettled(ids, { clock: "live", timeout: "10 seconds" })
 *   return stats
 * })
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { MessageId } from "../Message.js"
import { OutboxStore, type OutboxStoreError, type Stats } from "../OutboxStore.js"

/**
 * How to wait.
 *
 * @category testing
 * @since 0.1.0
 */
export interface Options {
  /** `test`: advance the TestClock each poll; `live` (default): wait real time. */
  readonly clock?: "test" | "live" | undefined
  /** Time between polls (virtual under TestClock). Default 100 ms. */
  readonly step?: Duration.DurationInput | undefined
  /** Give up after this much (virtual under TestClock). Default 30 s. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * The store was not drained in time; `stats` says what was left.
 *
 * @category testing
 * @since 0.1.0
 */
export class DrainTimeout extends Data.TaggedError("DrainTimeout")<{
  readonly waitedFor: string
  readonly timeout: Duration.Duration
  readonly left: string
}> {
  override get message() {
    return `Timed out after ${Duration.format(this.timeout)} waiting for ${this.waitedFor}; left: ${this.left}`
  }
}

const pollUntil = <A>(
  waitedFor: string,
  check: Effect.Effect<readonly [done: boolean, value: A, left: string], OutboxStoreError, OutboxStore>,
  options: Options
): Effect.Effect<A, DrainTimeout | OutboxStoreError, OutboxStore> =>
  Effect.gen(function*() {
    const step = Duration.decode(options.step ?? Duration.millis(100))
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(30))
    const polls = Math.max(1, Math.ceil(Duration.toMillis(timeout) / Math.max(1, Duration.toMillis(step))))
    const advance = options.clock === "test" ? TestClock.adjust(step) : Effect.sleep(step)
    let left = ""
    for (let poll = 0; poll <= polls; poll++) {
      const [done, value, remaining] = yield* check
      if (done) return value
      left = remaining
      yield* advance
    }
    return yield* new DrainTimeout({ waitedFor, timeout, left })
  })

/**
 * Waits until nothing is pending or in flight; returns the final stats (dead letters included).
 *
 * @category testing
 * @since 0.1.0
 */
export const untilDrained = (options: Options = {}): Effect.Effect<Stats, DrainTimeout | OutboxStoreError, OutboxStore> =>
  pollUntil(
    "the outbox to drain",
    Effect.flatMap(OutboxStore, (store) => store.stats).pipe(
      Effect.map((stats) =>
        [stats.pending === 0 && stats.inFlight === 0, stats, `${stats.pending} pending, ${stats.inFlight} in flight`] as const
      )
    ),
    options
  )

/**
 * Waits until every one of `ids` is settled: sent, or dead-lettered.
 *
 * @category testing
 * @since 0.1.0
 */
export const untilSettled = (
  ids: ReadonlyArray<MessageId>,
  options: Options = {}
): Effect.Effect<void, DrainTimeout | OutboxStoreError, OutboxStore> =>
  pollUntil(
    `${ids.length} messages to settle`,
    Effect.flatMap(OutboxStore, (store) => store.unsettled(ids)).pipe(
      Effect.map((unsettled) => [unsettled.length === 0, undefined, `ids ${unsettled.slice(0, 10).join(", ")}`] as const)
    ),
    options
  )
