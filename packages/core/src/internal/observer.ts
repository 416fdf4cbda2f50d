/**
 * What a drain step reports, and to whom: the summary of a settled batch and
 * the optional observer told of each (re-exported by `Relay`).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

/** What one drain step did. */
export interface Summary {
  readonly claimed: number
  readonly sent: number
  readonly retried: number
  readonly deadLettered: number
  /** Messages whose lease was lost before completion: another relay may hold them now. */
  readonly fenced: number
}

export const emptySummary: Summary = { claimed: 0, sent: 0, retried: 0, deadLettered: 0, fenced: 0 }

/**
 * Optional observer told of every settled batch: the runner uses it to report
 * progress (a relay that settles nothing while messages wait is stuck).
 */
export class RelayObserver extends Context.Tag("@effect-outbox/core/RelayObserver")<RelayObserver, {
  readonly onBatch: (summary: Summary) => Effect.Effect<void>
  /**
   * Told after every drain step of the loop: `undefined` when it worked (even
   * an empty claim), else why it failed (a store error, a defect). The runner
   * uses it to turn a claim that keeps failing into unreadiness.
   */
  readonly onStep?: ((failure: string | undefined) => Effect.Effect<void>) | undefined
}>() {}
