/**
 * The drain loop's workers. Each worker is one long-lived fiber: claim a
 * batch, send it, settle it, and when the claim came back short, wait for a
 * wake-up, the next due time or the poll. No fiber is forked per batch.
 *
 * Shutdown is cooperative: it raises a flag and a signal that ends every wait.
 * A worker between batches stops at once; one with a batch in flight finishes
 * it first (the runner waits up to `shutdownTimeout`, then interrupts it: a
 * leased batch keeps its lease, a transactional one rolls back). A batch
 * claimed just as shutdown began is handed back untried.
 *
 * Folded acks: in lease mode, a batch that was all delivered is not completed
 * on its own when the next claim comes at once (the batch was full, or a
 * wake-up came in while it was sent); its acks ride on that claim
 * (`OutboxStore.ackAndClaim`), one write per batch instead of two. A worker
 * losing leadership or stopping settles them first.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { Leadership } from "../Leadership.js"
import * as OutboxMetrics from "../OutboxMetrics.js"
import {
  type Claim,
  type Completion,
  OutboxStore,
  type OutboxStoreError,
  type TransactionalClaims
} from "../OutboxStore.js"
import type { Sender } from "../Sender.js"
import {
  ackAndClaimBatch,
  claimBatch,
  completeBatch,
  isEmpty,
  releaseClaim,
  reportBatch,
  sendClaim
} from "./batch.js"
import * as DueTime from "./dueTime.js"
import { logStepError, StepDefect } from "./isolation.js"
import { emptySummary, type Summary } from "./observer.js"
import type { Resolved } from "./resolved.js"
import { traced } from "./tracing.js"
import type * as WakeSignal from "./wakeSignal.js"

/** Shutdown as the workers see it: a flag read between steps, and a signal that ends their waits. */
export interface Shutdown {
  stopping: boolean
  readonly signal: Deferred.Deferred<void>
}

export const makeShutdown: Effect.Effect<Shutdown> = Effect.map(Deferred.make<void>(), (signal) => ({
  stopping: false,
  signal
}))

/** A delivered full batch whose acks ride on the worker's next claim. */
interface Pending {
  readonly claim: Claim
  readonly acks: ReadonlyArray<Completion>
}

interface WorkerState {
  pending: Pending | undefined
}

/**
 * One lease-mode batch: claim (folding in the previous batch's acks), send,
 * settle. The claim runs to its end whatever happens (interrupted halfway, its
 * rows would stay leased, unseen, until the lease expired); the send and the
 * completion can be interrupted, and the batch then keeps its lease.
 *
 * A delivered batch's acks ride on the next claim when that claim comes at
 * once: the batch was full, or `claimNext` says a wake-up came in meanwhile.
 */
export const leaseStep = (
  resolved: Resolved,
  state: WorkerState,
  shutdown: Shutdown,
  foldAcks: boolean,
  claimNext: Effect.Effect<boolean> = Effect.succeed(false)
): Effect.Effect<Summary, OutboxStoreError, OutboxStore | Sender> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const pending = state.pending
      const claim = pending === undefined
        ? yield* claimBatch(resolved)
        : yield* ackAndClaimBatch(resolved, pending.claim, pending.acks)
      state.pending = undefined
      if (isEmpty(claim)) return emptySummary
      if (shutdown.stopping) return yield* releaseClaim(claim)
      const completions = yield* restore(sendClaim(resolved, claim, true))
      const delivered = completions.every((completion) => completion._tag === "Ack")
      const next = claim.messages.length === resolved.config.batchSize || (yield* claimNext)
      if (foldAcks && delivered && next && !shutdown.stopping) {
        state.pending = { claim, acks: completions }
        return { ...emptySummary, claimed: claim.messages.length }
      }
      return yield* restore(completeBatch(claim, completions))
    })
  )

/** One transactional batch: claim, send and settle in one store transaction (interrupted, it rolls back). */
export const transactionalStep = (resolved: Resolved, transactional: TransactionalClaims) =>
  transactional.run(resolved.claimOptions, (claim) =>
    Effect.zipRight(
      Metric.update(OutboxMetrics.batchSize, claim.messages.length),
      sendClaim(resolved, claim, false)
    )).pipe(
      traced("outbox.claim", () => ({
        attributes: { "outbox.batch_limit": resolved.config.batchSize, "outbox.claim_mode": "transactional" }
      })),
      Effect.flatMap((done) =>
        isEmpty(done.claim)
          ? Effect.succeed(emptySummary)
          : reportBatch(
            done.claim,
            done.completions,
            new Set([...done.claim.messages, ...(done.claim.malformed ?? [])].map((m) => m.id)),
            0
          )
      )
    )

// Store errors are transient from the relay's view (a restarting database):
// log each and back off, doubling from 100 ms up to 5 s, instead of dying.
const backoff = (failures: number) => Duration.millis(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)))

export interface WorkerContext {
  readonly resolved: Resolved
  readonly signal: WakeSignal.WakeSignal
  readonly shutdown: Shutdown
  readonly leadership: Leadership["Type"]
  readonly transactional: TransactionalClaims | undefined
  readonly onStep: (failure: string | undefined) => Effect.Effect<void>
}

/** One worker's loop, until shutdown; it never fails (whatever a message holds, the loop does not die of it). */
export const worker = (context: WorkerContext) =>
  Effect.gen(function*() {
    const { leadership, onStep, resolved, shutdown, signal, transactional } = context
    const store = yield* OutboxStore
    const state: WorkerState = { pending: undefined }
    const foldAcks = store.ackAndClaim !== undefined && resolved.ordering === undefined
    // A wake-up that came in during the batch means the next claim comes at once.
    const step = (round: Deferred.Deferred<void>) =>
      transactional === undefined
        ? leaseStep(resolved, state, shutdown, foldAcks, Deferred.isDone(round))
        : transactionalStep(resolved, transactional)
    const stopped = Deferred.await(shutdown.signal)
    const waitFor = (round: Deferred.Deferred<void>, wait: Duration.Duration) =>
      Effect.raceAll([Deferred.await(round), Effect.sleep(wait), stopped])
    // Acks held for the next claim, written alone (before waiting, or on the way out).
    const settlePending = Effect.suspend(() => {
      const pending = state.pending
      if (pending === undefined) return Effect.void
      state.pending = undefined
      return Effect.asVoid(completeBatch(pending.claim, pending.acks))
    })
    const iteration = Effect.gen(function*() {
      // Taken before claiming: a wake-up during the batch completes this round, so it is not missed.
      const round = yield* signal.round
      if (!(yield* leadership.isLeader)) {
        yield* settlePending
        return yield* waitFor(round, resolved.pollInterval)
      }
      const summary = yield* step(round)
      yield* onStep(undefined)
      // Settling a key's head makes its next message claimable, with no wake-up
      // from the store: in ordered delivery that is a reason to claim again at once.
      const freedKeys = resolved.ordering !== undefined && summary.sent + summary.deadLettered > 0
      const idle = summary.claimed < resolved.config.batchSize && state.pending === undefined
      if (idle && !freedKeys && !shutdown.stopping) {
        // Idle until a wake-up, the next message's due time (a retry or a delayed
        // message, whoever wrote it), or the poll: the poll is only the fallback.
        yield* waitFor(round, DueTime.untilNext(resolved.pollInterval, yield* store.nextDue))
      }
    }).pipe(Effect.catchAllDefect((defect) => Effect.fail(new StepDefect({ defect }))))
    let failures = 0
    while (!shutdown.stopping) {
      const outcome = yield* Effect.either(iteration)
      if (outcome._tag === "Right") {
        failures = 0
        continue
      }
      yield* logStepError(outcome.left)
      yield* onStep(outcome.left.message)
      yield* Effect.raceFirst(Effect.sleep(backoff(failures++)), stopped)
    }
    yield* settlePending.pipe(
      Effect.tapError((error) => Effect.logWarning("Could not settle the last batch on shutdown; it is re-sent after its lease", error)),
      Effect.ignore // the lease is the fallback: at worst the batch is sent again
    )
  })
