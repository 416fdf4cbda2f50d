/**
 * The relay drains the outbox: claim a batch → send it → settle it in one
 * store write, again and again. A full batch is followed at once by the next;
 * after a short one the relay asks the store when the next message comes due
 * (a retry or a delayed message, whichever relay or process wrote it) and
 * waits for that, a store wake-up or `pollInterval`, whichever comes first. So
 * a due message is attempted when it is due; `pollInterval` is only the
 * fallback for wake-ups that were lost (a dropped LISTEN connection, no
 * `Notifications` layer), not a floor on retry latency.
 *
 * Shutdown (closing the relay's scope) stops claiming; a batch in flight
 * finishes its send and its completion, bounded by `shutdownTimeout`. What is
 * still unfinished then keeps its lease and is re-claimed after it expires:
 * nothing is lost, at worst it is sent again.
 *
 * @example
 * import { Layer } from "effect"
 * import { MemoryStore, Relay, type Sender } from "@effect-outbox/core"
 *
 * declare const MySenderLayer: Layer.Layer<Sender.Sender>
 *
 * const RelayLive = Relay.layer({ batchSize: 50, pollInterval: "500 millis" }).pipe(
 *   Layer.provide(MemoryStore.layer),
 *   Layer.provide(MySenderLayer)
 * )
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { RelayObserver, type Summary } from "./internal/observer.js"
import { resolve as resolveConfig, type Resolved } from "./internal/resolved.js"
import * as WakeSignal from "./internal/wakeSignal.js"
import { leaseStep, makeShutdown, transactionalStep, worker } from "./internal/worker.js"
import { Leadership } from "./Leadership.js"
import { OutboxStore, type OutboxStoreError } from "./OutboxStore.js"
import * as RetryPolicy from "./RetryPolicy.js"
import type { Sender } from "./Sender.js"
import type * as Topic from "./Topic.js"

/**
 * How the relay runs. Every field has a default (`defaults`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Config {
  /** Messages claimed per batch. */
  readonly batchSize: number
  /** Batches in flight at once (each in its own worker). */
  readonly concurrency: number
  /**
   * The fallback: the longest an idle relay waits between claims. Store
   * wake-ups (a commit) and due times (a retry or delayed message coming due)
   * wake it sooner, so this bounds only how late a lost wake-up is noticed.
   */
  readonly pollInterval: Duration.DurationInput
  /** How long a claimed batch is leased; renewed while a send runs long. */
  readonly leaseFor: Duration.DurationInput
  /** A send taking longer fails every message in the batch (they are retried). */
  readonly sendTimeout: Duration.DurationInput
  /** On shutdown, how long an in-flight batch may take to finish its send and completion. */
  readonly shutdownTimeout: Duration.DurationInput
  /** One policy for every topic, or a policy per topic (`RetryPolicy.byTopic`). */
  readonly retryPolicy: RetryPolicy.RetryPolicy | RetryPolicy.Selector
  /** Claim first-attempt messages before retries. */
  readonly freshFirst: boolean
  /**
   * Topics whose payloads the relay checks before sending: a message on one of
   * them that does not decode with its schema is dead-lettered `Undecodable`
   * instead of being sent (or retried forever). Other topics pass unchecked.
   */
  readonly topics: ReadonlyArray<Topic.AnyNoContext>
  /**
   * Deliver messages with the same `key` in publish order: `true` for every
   * topic, or the names of the ordered topics (their keyed messages share one
   * order per key). A key never has two messages in flight, and a later message
   * waits while an earlier one is in flight or waiting for its retry; other keys
   * flow on. Unkeyed messages stay unordered. Every relay on one outbox must agree.
   */
  readonly ordered: boolean | ReadonlyArray<string>
  /**
   * In ordered delivery, what a dead-lettered message does to its key:
   * `block` parks the key (its later messages wait until the dead letter is
   * replayed or purged: strict order); `skip` lets the key move on.
   */
  readonly deadLetteredKey: "block" | "skip"
  /**
   * How a batch is held while it is sent. `lease` (default): the claim writes a
   * lease and the completion writes again; right for slow or unbounded senders
   * (webhooks). `transactional`: the batch's row locks, held by an open
   * transaction, are its lease, and its completions commit with it (one write
   * per delivered message); right for fast senders (brokers with confirms,
   * in-process handlers), since each worker holds a connection and row locks for
   * the length of its send. The store must support it (the SQL store does).
   */
  readonly claimMode: ClaimMode
  /**
   * How many lost claims (leases that expired with no result: the relay holding
   * the message crashed, hung or lost its database) a message may have before it
   * is dead-lettered `Exhausted` unsent. Counted apart from failed sends, so
   * crashes do not spend the retry policy of the messages they held; the budget
   * is there to stop a message that itself crashes relays. Its batch mates lose
   * the same claims: keep it well above the number of crashes a healthy message
   * may see (default 20; each lost claim costs one `leaseFor`).
   */
  readonly maxLostClaims: number
}

/**
 * How a batch is held while it is sent (see `Config.claimMode`).
 *
 * @category models
 * @since 0.1.0
 */
export type ClaimMode = "lease" | "transactional"

/**
 * Partial config: anything left out takes its default.
 *
 * @category models
 * @since 0.1.0
 */
export type Options = Partial<Config>

/**
 * The defaults: batches of 100, one in flight, 1 s poll, 30 s lease, 10 s send
 * timeout, 30 s shutdown, unordered (and `block` once ordered).
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults: Config = {
  batchSize: 100,
  concurrency: 1,
  pollInterval: Duration.seconds(1),
  leaseFor: Duration.seconds(30),
  sendTimeout: Duration.seconds(10),
  shutdownTimeout: Duration.seconds(30),
  retryPolicy: RetryPolicy.defaultPolicy,
  freshFirst: false,
  topics: [],
  ordered: false,
  deadLetteredKey: "block",
  claimMode: "lease",
  maxLostClaims: 20
}

/**
 * The relay cannot run as configured with this store; the message says why and what to change.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConfigError extends Data.TaggedError("RelayConfigError")<{ readonly detail: string }> {
  override get message() {
    return `Relay configuration: ${this.detail}`
  }
}

export {
  /**
   * Optional observer told of every settled batch and every drain step (the
   * runner reports progress and readiness through it).
   *
   * @category tags
   * @since 0.1.0
   */
  RelayObserver,
  /**
   * What one drain step did: claimed, sent, retried, dead-lettered and fenced counts.
   *
   * @category models
   * @since 0.1.0
   */
  type Summary
} from "./internal/observer.js"

const resolve = (options: Options): Resolved => resolveConfig({ ...defaults, ...options })

/** The store's transactional claims when the relay is asked for them; refuses what cannot work. */
const claimModeOf = (resolved: Resolved, store: OutboxStore["Type"]) => {
  if (resolved.config.claimMode === "lease") return Effect.succeed(undefined)
  const transactional = store.transactional
  if (transactional === undefined) {
    return Effect.fail(
      new ConfigError({
        detail:
          "claimMode \"transactional\" needs a store that supports it (the SQL store does); this store does not: use claimMode \"lease\""
      })
    )
  }
  const concurrency = Math.max(1, resolved.config.concurrency)
  if (transactional.maxOpen !== undefined && concurrency > transactional.maxOpen) {
    return Effect.fail(
      new ConfigError({
        detail: `claimMode "transactional" holds one database connection per worker for the length of its send: ` +
          `concurrency ${concurrency} needs a pool of at least ${concurrency + 1} connections ` +
          `(the store's pool allows ${transactional.maxOpen} open batches); raise the pool's size or lower concurrency`
      })
    )
  }
  return Effect.succeed(transactional)
}

/**
 * The single deterministic drain step: claim one batch, send it, settle it.
 * Interrupted while sending, the batch keeps its lease (or, transactional, rolls back).
 *
 * @category operations
 * @since 0.1.0
 */
export const drainOnce: (
  options?: Options
) => Effect.Effect<Summary, OutboxStoreError | ConfigError, OutboxStore | Sender> = Effect.fn("Relay.drainOnce")(
  function*(options: Options = {}) {
    const resolved = resolve(options)
    const transactional = yield* claimModeOf(resolved, yield* OutboxStore)
    if (transactional !== undefined) return yield* transactionalStep(resolved, transactional)
    return yield* leaseStep(resolved, { pending: undefined }, yield* makeShutdown, false)
  }
)

/** Stops the workers: each finishes its batch within `shutdownTimeout`, or is interrupted. */
const stopWorkers = (
  resolved: Resolved,
  shutdown: { stopping: boolean; readonly signal: Deferred.Deferred<void> },
  workers: ReadonlyArray<Fiber.RuntimeFiber<void>>
) =>
  Effect.gen(function*() {
    shutdown.stopping = true
    yield* Deferred.succeed(shutdown.signal, undefined)
    const abandoned = resolved.config.claimMode === "lease"
      ? "its messages keep their lease and will be re-claimed"
      : "its transaction rolls back and the batch is claimable again"
    yield* Effect.forEach(workers, (fiber) =>
      // Interruptible inside this finalizer, or the timeout could not abandon the wait.
      Effect.interruptible(Fiber.await(fiber)).pipe(
        Effect.timeoutOption(resolved.shutdownTimeout),
        Effect.flatMap(Option.match({
          onSome: () => Effect.void,
          onNone: () =>
            Effect.logWarning(`Shutdown timeout reached with a batch in flight; ${abandoned}`).pipe(
              Effect.zipRight(Fiber.interrupt(fiber))
            )
        }))
      ), { concurrency: "unbounded", discard: true })
  })

/**
 * Runs the drain loop until interrupted: `concurrency` workers sharing one
 * wake-up signal fed by the store. Fork it in a scope, or use `layer`.
 *
 * @category operations
 * @since 0.1.0
 */
export const run = (
  options: Options = {}
): Effect.Effect<never, ConfigError, OutboxStore | Sender | Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = resolve(options)
    const store = yield* OutboxStore
    const transactional = yield* claimModeOf(resolved, store)
    const leadership = Option.getOrElse(yield* Effect.serviceOption(Leadership), () => alwaysLeader)
    const signal = yield* WakeSignal.make
    const observer = yield* Effect.serviceOption(RelayObserver)
    const onStep = Option.match(observer, {
      onNone: () => () => Effect.void,
      onSome: (observer) => observer.onStep ?? (() => Effect.void)
    })
    yield* store.wakeups.pipe(Stream.runForEach(() => signal.wake), Effect.forkScoped)
    const ordering = resolved.ordering
    yield* Effect.annotateLogs(Effect.logInfo("Relay started"), {
      batchSize: resolved.config.batchSize,
      concurrency: resolved.config.concurrency,
      claimMode: resolved.config.claimMode,
      ordered: ordering === undefined ? "no" : ordering === "all" ? "all topics" : ordering.topics.join(","),
      // A missing wake-up source is visible here instead of silently slow.
      wakeups: `${store.wakeupsFrom ?? "none"}; due times; polling every ${Duration.format(resolved.pollInterval)}`,
      // Only these topics' payloads are decoded before sending (an undecodable one is dead-lettered).
      checkedTopics: resolved.topics.size === 0 ? "none" : [...resolved.topics.keys()].join(",")
    })
    if (store.wakeupsFrom === undefined) {
      yield* Effect.logWarning(
        `The outbox store has no wake-ups (for Postgres, provide Notifications.layerPg): new messages wait up to pollInterval (${
          Duration.format(resolved.pollInterval)
        })`
      )
    }
    const shutdown = yield* makeShutdown
    const context = { resolved, signal, shutdown, leadership, transactional, onStep }
    // Daemons, so the interruption that stops the relay does not reach them: they are stopped by `stopWorkers`.
    const workers = yield* Effect.forEach(
      Array.from({ length: Math.max(1, resolved.config.concurrency) }),
      () => Effect.forkDaemon(worker(context))
    )
    return yield* Effect.forEach(workers, Fiber.join, { concurrency: "unbounded", discard: true }).pipe(
      Effect.zipRight(Effect.never),
      Effect.ensuring(stopWorkers(resolved, shutdown, workers)),
      Effect.onInterrupt(() => Effect.logInfo("Relay stopped"))
    )
  })

const alwaysLeader: Leadership["Type"] = { isLeader: Effect.succeed(true) }

/**
 * The relay as a layer: the drain loop runs as a fiber in the layer's scope
 * and stops (gracefully, see the module comment) when the scope closes.
 * Uses `Leadership`, `DeadLetterSink` and `RelayObserver` when provided.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<never, ConfigError, OutboxStore | Sender> =>
  Layer.scopedDiscard(Effect.zipRight(check(options), Effect.forkScoped(Effect.orDie(run(options)))))

/**
 * Fails with a `ConfigError` if the relay cannot run as configured with the
 * current store (a claim mode it lacks, a pool too small for the workers):
 * check it before forking `run`, so the failure stops start-up instead of a fiber.
 *
 * @category operations
 * @since 0.1.0
 */
export const check = (options: Options = {}): Effect.Effect<void, ConfigError, OutboxStore> =>
  Effect.asVoid(Effect.flatMap(OutboxStore, (store) => claimModeOf(resolve(options), store)))
