/**
 * What the runner knows about its relay: whether the drain loop is running,
 * when it last settled a batch, and how many messages it settled. The
 * readiness check reads it, so a relay that is stuck, or whose fiber died,
 * does not look healthy.
 *
 * @example
 * import { Layer } from "effect"
 * import { RelayProgress } from "@effect-outbox/node"
 *
 * // The relay, tracked (instead of Relay.layer); the tracker stays available to /readyz.
 * const RelayLive = RelayProgress.layerRelay({ batchSize: 100 }).pipe(Layer.provideMerge(RelayProgress.layer))
 *
 * @since 0.1.0
 */
import { Relay } from "@effect-outbox/core"
import type { OutboxStore, Sender } from "@effect-outbox/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

/**
 * Whether the relay's drain loop runs; times are `Clock` milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export type State =
  | { readonly _tag: "NotStarted" }
  | { readonly _tag: "Running"; readonly since: number }
  | { readonly _tag: "Stopped"; readonly at: number; readonly reason: string }

/**
 * Messages settled since the relay started.
 *
 * @category models
 * @since 0.1.0
 */
export interface Totals {
  readonly batches: number
  readonly sent: number
  readonly retried: number
  readonly deadLettered: number
  readonly fenced: number
}

/**
 * A consistent view of the relay's progress.
 *
 * @category models
 * @since 0.1.0
 */
export interface Snapshot {
  readonly state: State
  /**
   * When the relay last settled at least one message (sent, scheduled a retry
   * or dead-lettered: each proves the loop works), or when it started.
   */
  readonly lastProgressAt: number
  /** Since when the relay's drain steps have been failing in a row, and the last failure; null when the last one worked. */
  readonly failing: { readonly since: number; readonly reason: string } | null
  readonly totals: Totals
}

/**
 * The progress tracker. `track` (or `layerRelay`) feeds it; readiness and the demo read it.
 *
 * @category tags
 * @since 0.1.0
 */
export class RelayProgress extends Context.Tag("@effect-outbox/node/RelayProgress")<RelayProgress, {
  readonly snapshot: Effect.Effect<Snapshot>
  /** Records a settled batch: the relay's `RelayObserver.onBatch`. */
  readonly record: (summary: Relay.Summary) => Effect.Effect<void>
  readonly markRunning: Effect.Effect<void>
  readonly markStopped: (reason: string) => Effect.Effect<void>
  /** Records the outcome of one drain step: the relay's `RelayObserver.onStep`. */
  readonly recordStep: (failure: string | undefined) => Effect.Effect<void>
  /** Completes, with why, once the relay has stopped for any reason. */
  readonly stopped: Effect.Effect<string>
}>() {}

/**
 * The relay's drain loop ended while the runner was still running: nothing
 * would be delivered any more. The runner exits non-zero with it, so a
 * supervisor (systemd, Kubernetes, …) restarts the process.
 *
 * @category errors
 * @since 0.1.0
 */
export class RelayStopped extends Data.TaggedError("RelayStopped")<{ readonly reason: string }> {
  override get message() {
    return `the relay's drain loop ended (${this.reason}); exiting so that a supervisor restarts the runner`
  }
}

const noTotals: Totals = { batches: 0, sent: 0, retried: 0, deadLettered: 0, fenced: 0 }

/**
 * Makes a tracker; nothing has started yet.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<Context.Tag.Service<RelayProgress>> = Effect.gen(function*() {
  const createdAt = yield* Clock.currentTimeMillis
  const state = yield* Ref.make<Snapshot>({
    state: { _tag: "NotStarted" },
    lastProgressAt: createdAt,
    failing: null,
    totals: noTotals
  })
  const stopped = yield* Deferred.make<string>()
  return RelayProgress.of({
    snapshot: Ref.get(state),
    record: (summary) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(state, (current) => ({
          ...current,
          lastProgressAt: summary.sent + summary.retried + summary.deadLettered > 0 ? now : current.lastProgressAt,
          totals: {
            batches: current.totals.batches + 1,
            sent: current.totals.sent + summary.sent,
            retried: current.totals.retried + summary.retried,
            deadLettered: current.totals.deadLettered + summary.deadLettered,
            fenced: current.totals.fenced + summary.fenced
          }
        }))),
    // Starting resets the stall clock: a relay gets the full threshold for its first batch.
    markRunning: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(state, (current): Snapshot => ({ ...current, state: { _tag: "Running", since: now }, lastProgressAt: now }))),
    markStopped: (reason) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(state, (current): Snapshot => ({ ...current, state: { _tag: "Stopped", at: now, reason } }))).pipe(
          Effect.zipRight(Deferred.succeed(stopped, reason))
        ),
    recordStep: (failure) =>
      failure === undefined
        ? Ref.update(state, (current): Snapshot => (current.failing === null ? current : { ...current, failing: null }))
        : Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Ref.update(state, (current): Snapshot => ({
            ...current,
            failing: { since: current.failing?.since ?? now, reason: failure }
          }))),
    stopped: Deferred.await(stopped)
  })
})

/**
 * The tracker as a layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<RelayProgress> = Layer.effect(RelayProgress, make)

const describeExit = <A, E>(exit: Exit.Exit<A, E>): string =>
  Exit.match(exit, {
    onSuccess: () => "the relay returned",
    onFailure: (cause) =>
      Cause.isInterruptedOnly(cause)
        ? "the relay was shut down"
        : `the relay died: ${Cause.pretty(cause).split("\n")[0] ?? "unknown cause"}`
  })

/**
 * Runs a relay (`Relay.run(options)`, or any effect that drains) while
 * tracking it: marks it running, observes every settled batch, and marks it
 * stopped, with why, when it ends for any reason.
 *
 * @category combinators
 * @since 0.1.0
 */
export const track = <A, E, R>(relay: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | RelayProgress> =>
  Effect.flatMap(RelayProgress, (progress) =>
    progress.markRunning.pipe(
      Effect.zipRight(
        Effect.provideService(relay, Relay.RelayObserver, { onBatch: progress.record, onStep: progress.recordStep })
      ),
      Effect.onExit((exit) => progress.markStopped(describeExit(exit)))
    ))

/**
 * `Relay.layer`, tracked: the drain loop runs in the layer's scope and reports to `RelayProgress`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRelay = (
  options: Relay.Options = {}
): Layer.Layer<never, Relay.ConfigError, OutboxStore.OutboxStore | Sender.Sender | RelayProgress> =>
  Layer.scopedDiscard(
    // Checked first, so a configuration the store cannot run stops start-up with its reason.
    Effect.zipRight(Relay.check(options), Effect.forkScoped(track(Effect.orDie(Relay.run(options)))))
  )

/**
 * Waits until the tracked relay stops, then fails with `RelayStopped`: what
 * `outbox run` does after starting, so a drain loop that ends for any reason
 * ends the process (exit code 1) instead of leaving it up, delivering nothing.
 * A shutdown (SIGTERM) interrupts this wait first, so it exits 0.
 *
 * @category operations
 * @since 0.1.0
 */
export const failWhenStopped: Effect.Effect<never, RelayStopped, RelayProgress> = Effect.flatMap(
  RelayProgress,
  (progress) => Effect.flatMap(progress.stopped, (reason) => Effect.fail(new RelayStopped({ reason })))
)
