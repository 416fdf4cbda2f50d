/**
 * The relay announces itself: a fiber writes this process's row in the
 * relays table (`RelayRegistry`) every few seconds, with its settings and its
 * progress from `RelayProgress`, deletes rows of relays not seen for a while
 * (they crashed or lost their database), and deletes its own row on shutdown.
 * A failed write is logged and retried at the next beat: the heartbeat never
 * stops the relay.
 *
 * @since 0.1.0
 */
import { RelayRegistry } from "@effect-outbox/sql"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import { hostname } from "node:os"
import { RelayProgress } from "./RelayProgress.js"

/**
 * What the heartbeat says about the relay's settings.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly claimMode?: string | undefined
  readonly batchSize: number
  readonly concurrency: number
  readonly ordered: boolean | ReadonlyArray<string>
  /** How often to write. Default 5 seconds. */
  readonly interval?: Duration.DurationInput | undefined
  /** Rows not rewritten for this long are deleted. Default 1 minute. */
  readonly staleAfter?: Duration.DurationInput | undefined
}

const describeOrdered = (ordered: boolean | ReadonlyArray<string>): string =>
  typeof ordered === "boolean" ? String(ordered) : ordered.join(",")

const toDate = (millis: number) => new Date(millis)

/**
 * Runs the heartbeat in the layer's scope.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<never, never, RelayRegistry.RelayRegistry | RelayProgress> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const registry = yield* RelayRegistry.RelayRegistry
    const progress = yield* RelayProgress
    const suffix = (yield* Random.nextIntBetween(0, 0xffffff)).toString(16).padStart(6, "0")
    const host = hostname()
    const relayId = `${host}-${process.pid}-${suffix}`
    const startedAt = yield* Effect.map(progress.snapshot, (snapshot) =>
      snapshot.state._tag === "Running" ? snapshot.state.since : snapshot.lastProgressAt)

    const beat = Effect.gen(function*() {
      const snapshot = yield* progress.snapshot
      yield* registry.beat({
        relayId,
        host,
        pid: process.pid,
        claimMode: options.claimMode ?? "lease",
        batchSize: options.batchSize,
        concurrency: options.concurrency,
        ordered: describeOrdered(options.ordered),
        state: snapshot.state._tag === "Running" ? "running" : snapshot.state._tag === "Stopped" ? "stopped" : "starting",
        startedAt: toDate(startedAt),
        lastBatchAt: snapshot.totals.sent + snapshot.totals.retried + snapshot.totals.deadLettered > 0
          ? toDate(snapshot.lastProgressAt)
          : null,
        sent: snapshot.totals.sent,
        retried: snapshot.totals.retried,
        deadLettered: snapshot.totals.deadLettered
      })
      yield* registry.removeStale(options.staleAfter ?? Duration.minutes(1))
    }).pipe(Effect.catchAll((error) => Effect.logWarning("The relay heartbeat could not be written", error)))

    yield* Effect.addFinalizer(() =>
      // Best effort: a relay that cannot reach its database on the way out is cleaned up as stale.
      registry.remove(relayId).pipe(Effect.timeout("2 seconds"), Effect.ignore)
    )
    yield* Effect.forkScoped(Effect.repeat(beat, Schedule.spaced(options.interval ?? Duration.seconds(5))))
  }))
