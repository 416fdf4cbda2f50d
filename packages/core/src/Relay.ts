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
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as DueTime from "./internal/dueTime.js"
import { checkLostClaims, logStepError, malformedIdentity, recordMalformed, StepDefect } from "./internal/isolation.js"
import { recordOutcome } from "./internal/outcome.js"
import { completionFor, resultsByMessage } from "./internal/settle.js"
import * as WakeSignal from "./internal/wakeSignal.js"
import { Leadership } from "./Leadership.js"
import { type OutboxMessage, traceparentHeader } from "./Message.js"
import * as OutboxMetrics from "./OutboxMetrics.js"
import {
  type Claim,
  Completion,
  isOrdered,
  type Ordering,
  OutboxStore,
  type OutboxStoreError,
  type TransactionalClaims
} from "./OutboxStore.js"
import * as RetryPolicy from "./RetryPolicy.js"
import { SendError, Sender, SendResult } from "./Sender.js"
import * as Topic from "./Topic.js"

/** How the relay runs. Every field has a default (`defaults`). */
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

/** How a batch is held while it is sent (see `Config.claimMode`). */
export type ClaimMode = "lease" | "transactional"

/** Partial config: anything left out takes its default. */
export type Options = Partial<Config>

/**
 * The defaults: batches of 100, one in flight, 1 s poll, 30 s lease, 10 s send
 * timeout, 30 s shutdown, unordered (and `block` once ordered).
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

/** The relay cannot run as configured with this store; the message says why and what to change. */
export class ConfigError extends Data.TaggedError("RelayConfigError")<{ readonly detail: string }> {
  override get message() {
    return `Relay configuration: ${this.detail}`
  }
}

/** What one drain step did. */
export interface Summary {
  readonly claimed: number
  readonly sent: number
  readonly retried: number
  readonly deadLettered: number
  /** Messages whose lease was lost before completion: another relay may hold them now. */
  readonly fenced: number
}

const emptySummary: Summary = { claimed: 0, sent: 0, retried: 0, deadLettered: 0, fenced: 0 }

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

interface Resolved {
  readonly config: Config
  readonly pollInterval: Duration.Duration
  readonly leaseFor: Duration.Duration
  readonly sendTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly policyFor: RetryPolicy.Selector
  readonly topics: ReadonlyMap<string, Topic.AnyNoContext>
  readonly ordering: Ordering | undefined
}

const resolve = (options: Options): Resolved => {
  const config: Config = { ...defaults, ...options }
  const policy = config.retryPolicy
  return {
    config,
    pollInterval: Duration.decode(config.pollInterval),
    leaseFor: Duration.decode(config.leaseFor),
    sendTimeout: Duration.decode(config.sendTimeout),
    shutdownTimeout: Duration.decode(config.shutdownTimeout),
    policyFor: typeof policy === "function" ? policy : () => policy,
    topics: new Map(config.topics.map((topic) => [topic.name, topic])),
    ordering: config.ordered === true ? "all" : config.ordered === false ? undefined : { topics: config.ordered }
  }
}

// A header that is not a W3C traceparent is no link (and never a reason to fail).
const traceparentFormat = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

// Links the send span to each publisher's span: delivery may come hours later,
// so the publisher is a link, not a parent.
const publisherLinks = (batch: ReadonlyArray<OutboxMessage>): Array<Tracer.SpanLink> =>
  batch.flatMap((message) => {
    const header: unknown = message.headers[traceparentHeader]
    const match = typeof header === "string" ? traceparentFormat.exec(header) : null
    const [, traceId, spanId, flags] = match ?? []
    if (traceId === undefined || spanId === undefined) return []
    return [{
      _tag: "SpanLink" as const,
      span: Tracer.externalSpan({ traceId, spanId, sampled: flags === "01" }),
      attributes: { "outbox.message_id": message.id }
    }]
  })

const failAll = (batch: ReadonlyArray<OutboxMessage>, error: string): ReadonlyArray<SendResult> =>
  batch.map((message) => SendResult.Failed({ id: message.id, error }))

/** Splits off messages on checked topics whose payload does not decode, as `Undecodable` dead letters. */
const checkPayloads = Effect.fnUntraced(function*(resolved: Resolved, batch: ReadonlyArray<OutboxMessage>) {
  const sendable: Array<OutboxMessage> = []
  const undecodable: Array<Completion> = []
  for (const message of batch) {
    const topic = resolved.topics.get(message.topic)
    const decoded = topic === undefined ? undefined : yield* Effect.either(Topic.decode(topic, message))
    if (decoded?._tag === "Left") {
      undecodable.push(Completion.DeadLetter({ id: message.id, reason: "Undecodable", error: decoded.left.message }))
    } else {
      sendable.push(message)
    }
  }
  return { sendable, undecodable }
})

/**
 * Sends a batch under the send timeout, renewing its lease while the send runs
 * long (lease mode; a transactional batch's lease is its open transaction).
 */
const sendBatch = (resolved: Resolved, token: string | undefined, batch: ReadonlyArray<OutboxMessage>) =>
  Effect.gen(function*() {
    const store = yield* OutboxStore
    const sender = yield* Sender
    const ids = batch.map((message) => message.id)
    const half = Duration.divide(resolved.leaseFor, 2).pipe(Option.getOrElse(() => resolved.leaseFor))
    // Only a send that can outlast half the lease needs renewing (not so with the defaults).
    if (token !== undefined && Duration.greaterThanOrEqualTo(resolved.sendTimeout, half)) {
      yield* store.renewLease(token, ids, resolved.leaseFor).pipe(
        Effect.tapError((error) => Effect.logWarning("Could not renew the lease of a batch in flight", error)),
        Effect.ignore, // a failed renewal is not fatal: at worst the batch is re-claimed and sent again
        Effect.delay(half),
        Effect.repeat(Schedule.spaced(half)),
        Effect.forkScoped
      )
    }
    const started = yield* Clock.currentTimeMillis
    const results = yield* sender.send(batch).pipe(
      Effect.timeoutFail({
        duration: resolved.sendTimeout,
        onTimeout: () => new SendError({ reason: `timed out after ${Duration.format(resolved.sendTimeout)}` })
      }),
      Effect.catchAllCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
        const error = Cause.failureOption(cause).pipe(
          Option.map((failure) => failure.message),
          Option.getOrElse(() => `the sender died: ${Cause.pretty(cause).split("\n")[0] ?? "unknown defect"}`)
        )
        return Effect.as(
          Effect.logWarning("Sending a batch failed; every message in it will be retried", {
            error,
            messages: batch.length
          }),
          failAll(batch, error)
        )
      }),
      Effect.withSpan("outbox.send", {
        links: publisherLinks(batch),
        attributes: { "outbox.batch_size": batch.length }
      })
    )
    const finished = yield* Clock.currentTimeMillis
    yield* Metric.update(OutboxMetrics.sendDuration, (finished - started) / 1000)
    return results
  }).pipe(Effect.scoped)

/** Under the `block` policy, a dead-lettered ordered message parks its key. */
const parkKeys = (
  resolved: Resolved,
  batch: ReadonlyArray<{ readonly id: string; readonly topic: string; readonly key: string | null }>,
  completions: ReadonlyArray<Completion>
): ReadonlyArray<Completion> => {
  if (resolved.ordering === undefined || resolved.config.deadLetteredKey === "skip") return completions
  const ordered = new Set(batch.filter((message) => isOrdered(resolved.ordering, message)).map((message) => message.id))
  return completions.map((completion) =>
    completion._tag === "DeadLetter" && ordered.has(completion.id)
      ? Completion.DeadLetter({ ...completion, parkKey: true })
      : completion
  )
}

/** Sends a claimed batch and decides how to settle each of its messages (and its malformed rows). */
const sendClaim = Effect.fnUntraced(function*(resolved: Resolved, claim: Claim, leased: boolean) {
  const malformed = claim.malformed ?? []
  const { kept, crashed } = checkLostClaims(resolved.config.maxLostClaims, claim.messages)
  const { sendable, undecodable } = resolved.topics.size === 0
    ? { sendable: kept, undecodable: [] }
    : yield* checkPayloads(resolved, kept)
  const results = sendable.length === 0 ? [] : yield* sendBatch(resolved, leased ? claim.token : undefined, sendable)
  const settled: Array<Completion> = []
  for (const [message, result] of resultsByMessage(sendable, results)) {
    // Delivered is the common case: settle it without running an effect per message.
    settled.push(
      result._tag === "Sent"
        ? Completion.Ack({ id: message.id })
        : yield* completionFor(message, result, resolved.policyFor)
    )
  }
  return parkKeys(resolved, [...claim.messages, ...malformed.map(malformedIdentity)], [
    ...malformed.map((row) => Completion.DeadLetter({ id: row.id, reason: "Malformed", error: row.error })),
    ...crashed,
    ...undecodable,
    ...settled
  ])
})

/** Sends a claimed batch and settles every message of it in one store write. */
const processClaim = Effect.fnUntraced(function*(resolved: Resolved, claim: Claim) {
  const store = yield* OutboxStore
  const completions = yield* sendClaim(resolved, claim, true)
  const report = yield* store.complete(claim.token, completions).pipe(
    Effect.withSpan("outbox.complete", { attributes: { "outbox.batch_size": completions.length } })
  )
  if (report.fenced.length > 0) {
    yield* Effect.logWarning("Lost the lease of messages before completing them; their new holder settles them", {
      fenced: report.fenced.length
    })
  }
  return yield* reportBatch(claim, completions, new Set(report.completed), report.fenced.length)
})

/** Records what a settled batch changed and tells the observer. */
const reportBatch = Effect.fnUntraced(function*(
  claim: Claim,
  completions: ReadonlyArray<Completion>,
  completed: ReadonlySet<string>,
  fenced: number
) {
  const malformed = claim.malformed ?? []
  yield* recordOutcome(claim.messages, completions, completed)
  if (malformed.length > 0) yield* recordMalformed(malformed, completed)
  const count = (tag: Completion["_tag"]) =>
    completions.filter((completion) => completion._tag === tag && completed.has(completion.id)).length
  const summary: Summary = {
    claimed: claim.messages.length + malformed.length,
    sent: count("Ack"),
    retried: count("Retry"),
    deadLettered: count("DeadLetter"),
    fenced
  }
  const observer = yield* Effect.serviceOption(RelayObserver)
  if (Option.isSome(observer)) yield* observer.value.onBatch(summary)
  return summary
})

const claimOptions = (resolved: Resolved) => ({
  batchSize: resolved.config.batchSize,
  leaseFor: resolved.leaseFor,
  freshFirst: resolved.config.freshFirst,
  ordered: resolved.ordering
})

const claimBatch = (resolved: Resolved) =>
  Effect.flatMap(OutboxStore, (store) => store.claim(claimOptions(resolved))).pipe(
      Effect.tap((claim) => Metric.update(OutboxMetrics.batchSize, claim.messages.length)),
      Effect.withSpan("outbox.claim", { attributes: { "outbox.batch_limit": resolved.config.batchSize } })
    )

const releaseClaim = (claim: Claim) =>
  Effect.flatMap(OutboxStore, (store) =>
    store.complete(
      claim.token,
      [...claim.messages, ...(claim.malformed ?? [])].map((message) => Completion.Release({ id: message.id }))
    )).pipe(
      Effect.tapError((error) =>
        Effect.logWarning("Could not hand back a batch claimed during shutdown; it is re-claimed when its lease expires", error)),
      Effect.ignore // the lease is the fallback: nothing is lost
    )

/**
 * One claim and its batch, shielded from interruption once claimed: on
 * shutdown the batch may finish within `shutdownTimeout`; past that it is
 * abandoned with its lease intact (re-claimed later, never lost). A batch
 * claimed just as shutdown began is released untried.
 */
const step = (resolved: Resolved) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      // The claim itself runs to its end (one statement): interrupted halfway,
      // its rows would stay leased, unseen, until the lease expired.
      const claim = yield* claimBatch(resolved)
      if (claim.messages.length === 0 && (claim.malformed ?? []).length === 0) return emptySummary
      // Stopped while claiming: hand the batch back untried instead of sending it.
      yield* restore(Effect.void).pipe(Effect.onInterrupt(() => releaseClaim(claim)))
      // A daemon, so the interruption that stops the relay does not reach it: it is
      // either joined or, past shutdownTimeout, interrupted explicitly below.
      const batch = yield* Effect.forkDaemon(Effect.interruptible(processClaim(resolved, claim)))
      return yield* restore(Fiber.join(batch)).pipe(
        Effect.onInterrupt(() =>
          // Interruptible inside this uninterruptible finalizer, or the timeout could not abandon the wait.
          Effect.interruptible(Fiber.await(batch)).pipe(
            Effect.timeoutOption(resolved.shutdownTimeout),
            Effect.flatMap(Option.match({
              onSome: () => Effect.void,
              onNone: () =>
                Effect.logWarning(
                  "Shutdown timeout reached with a batch in flight; its messages keep their lease and will be re-claimed",
                  { messages: claim.messages.length }
                ).pipe(Effect.zipRight(Fiber.interrupt(batch)))
            }))
          )
        )
      )
    })
  )

/**
 * One transactional batch: claim, send and settle in one store transaction.
 * On shutdown it may commit within `shutdownTimeout`; past that it is
 * interrupted, which rolls the transaction back (the batch is claimable again at once).
 */
const transactionalStep = (resolved: Resolved, transactional: TransactionalClaims) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const run = transactional.run(claimOptions(resolved), (claim) =>
        Effect.zipRight(
          Metric.update(OutboxMetrics.batchSize, claim.messages.length),
          sendClaim(resolved, claim, false)
        )).pipe(
          Effect.withSpan("outbox.claim", {
            attributes: { "outbox.batch_limit": resolved.config.batchSize, "outbox.claim_mode": "transactional" }
          })
        )
      // A daemon, for the same reason as in `step`: only an explicit interruption rolls it back.
      const batch = yield* Effect.forkDaemon(Effect.interruptible(run))
      const done = yield* restore(Fiber.join(batch)).pipe(
        Effect.onInterrupt(() =>
          Effect.interruptible(Fiber.await(batch)).pipe(
            Effect.timeoutOption(resolved.shutdownTimeout),
            Effect.flatMap(Option.match({
              onSome: () => Effect.void,
              onNone: () =>
                Effect.logWarning(
                  "Shutdown timeout reached with a batch in flight; its transaction rolls back and the batch is claimable again"
                ).pipe(Effect.zipRight(Fiber.interrupt(batch)))
            }))
          )
        )
      )
      if (done.claim.messages.length === 0) return emptySummary
      return yield* reportBatch(done.claim, done.completions, new Set(done.claim.messages.map((m) => m.id)), 0)
    })
  )

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

const stepFor = (resolved: Resolved, transactional: TransactionalClaims | undefined) =>
  transactional === undefined ? step(resolved) : transactionalStep(resolved, transactional)

/** The single deterministic drain step: claim one batch, send it, settle it. */
export const drainOnce: (
  options?: Options
) => Effect.Effect<Summary, OutboxStoreError | ConfigError, OutboxStore | Sender> = Effect.fn("Relay.drainOnce")(
  function*(options: Options = {}) {
    const resolved = resolve(options)
    const transactional = yield* claimModeOf(resolved, yield* OutboxStore)
    return yield* stepFor(resolved, transactional)
  }
)

// Store errors are transient from the relay's view (a restarting database):
// log each once and back off, capped, instead of dying.
const storeErrorBackoff = Schedule.exponential(Duration.millis(100)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(5)))
)

const worker = (
  resolved: Resolved,
  signal: WakeSignal.WakeSignal,
  leadership: Leadership["Type"],
  transactional: TransactionalClaims | undefined,
  onStep: (failure: string | undefined) => Effect.Effect<void>
) => {
  const waitForWork = (round: Deferred.Deferred<void>, wait: Duration.Duration) =>
    Effect.raceFirst(Deferred.await(round), Effect.sleep(wait))
  const iteration = Effect.gen(function*() {
    // Taken before claiming: a wake-up during the batch completes this round, so it is not missed.
    const round = yield* signal.round
    if (!(yield* leadership.isLeader)) return yield* waitForWork(round, resolved.pollInterval)
    const summary = yield* stepFor(resolved, transactional)
    yield* onStep(undefined)
    // Settling a key's head makes its next message claimable, with no wake-up
    // from the store: in ordered delivery that is a reason to claim again at once.
    const freedKeys = resolved.ordering !== undefined && summary.sent + summary.deadLettered > 0
    if (summary.claimed < resolved.config.batchSize && !freedKeys) {
      // Idle until a wake-up, the next message's due time (a retry or a delayed
      // message, whoever wrote it), or the poll: the poll is only the fallback.
      const store = yield* OutboxStore
      yield* waitForWork(round, DueTime.untilNext(resolved.pollInterval, yield* store.nextDue))
    }
  })
  return iteration.pipe(
    // Whatever a message holds, the loop does not die of it.
    Effect.catchAllDefect((defect) => Effect.fail(new StepDefect({ defect }))),
    Effect.tapError((error) => Effect.zipRight(logStepError(error), onStep(error.message))),
    Effect.retry(storeErrorBackoff),
    Effect.forever,
    Effect.orDie // unreachable: the backoff schedule never ends, so the retry never gives up
  )
}

/**
 * Runs the drain loop until interrupted: `concurrency` workers sharing one
 * wake-up signal fed by the store. Fork it in a scope, or use `layer`.
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
    return yield* Effect.forEach(
      Array.from(
        { length: Math.max(1, resolved.config.concurrency) },
        () => worker(resolved, signal, leadership, transactional, onStep)
      ),
      (work) => work,
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.zipRight(Effect.never), Effect.onInterrupt(() => Effect.logInfo("Relay stopped")))
  })

const alwaysLeader: Leadership["Type"] = { isLeader: Effect.succeed(true) }

/**
 * The relay as a layer: the drain loop runs as a fiber in the layer's scope
 * and stops (gracefully, see the module comment) when the scope closes.
 * Uses `Leadership`, `DeadLetterSink` and `RelayObserver` when provided.
 */
export const layer = (options: Options = {}): Layer.Layer<never, ConfigError, OutboxStore | Sender> =>
  Layer.scopedDiscard(Effect.zipRight(check(options), Effect.forkScoped(Effect.orDie(run(options)))))

/**
 * Fails with a `ConfigError` if the relay cannot run as configured with the
 * current store (a claim mode it lacks, a pool too small for the workers):
 * check it before forking `run`, so the failure stops start-up instead of a fiber.
 */
export const check = (options: Options = {}): Effect.Effect<void, ConfigError, OutboxStore> =>
  Effect.asVoid(Effect.flatMap(OutboxStore, (store) => claimModeOf(resolve(options), store)))
