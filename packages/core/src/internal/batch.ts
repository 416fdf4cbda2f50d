/**
 * One batch's way through the relay: claim it, check it, send it under the
 * send timeout, decide each message's completion, and report what the store
 * settled (metrics, logs, the observer).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { OutboxMessage } from "../Message.js"
import * as OutboxMetrics from "../OutboxMetrics.js"
import { type Claim, Completion, type CompleteReport, isOrdered, OutboxStore } from "../OutboxStore.js"
import { SendError, Sender, SendResult } from "../Sender.js"
import * as Topic from "../Topic.js"
import { checkLostClaims, malformedIdentity, recordMalformed } from "./isolation.js"
import { emptySummary, RelayObserver, type Summary } from "./observer.js"
import { recordOutcome } from "./outcome.js"
import type { Resolved } from "./resolved.js"
import { completionFor, resultsByMessage } from "./settle.js"
import { publisherLinks, traced } from "./tracing.js"

/** Whether a claim holds nothing at all (no messages, no malformed rows). */
export const isEmpty = (claim: Claim) => claim.messages.length === 0 && (claim.malformed ?? []).length === 0

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

// Keeps a batch's lease while its send runs long (a transactional batch's lease is its open transaction).
const renewWhileSending = (resolved: Resolved, token: string, ids: ReadonlyArray<string>) =>
  Effect.flatMap(OutboxStore, (store) => {
    const half = Duration.divide(resolved.leaseFor, 2).pipe(Option.getOrElse(() => resolved.leaseFor))
    return store.renewLease(token, ids, resolved.leaseFor).pipe(
      Effect.tapError((error) => Effect.logWarning("Could not renew the lease of a batch in flight", error)),
      Effect.ignore, // a failed renewal is not fatal: at worst the batch is re-claimed and sent again
      Effect.delay(half),
      Effect.repeat(Schedule.spaced(half))
    )
  })

// Only a send that can outlast half the lease needs renewing (not so with the defaults).
const needsRenewal = (resolved: Resolved) =>
  Duration.greaterThanOrEqualTo(resolved.sendTimeout, Duration.divide(resolved.leaseFor, 2).pipe(Option.getOrElse(() => resolved.leaseFor)))

/** Sends a batch under the send timeout; whatever goes wrong becomes a failed result per message. */
const sendBatch = (resolved: Resolved, token: string | undefined, batch: ReadonlyArray<OutboxMessage>) =>
  Effect.gen(function*() {
    const sender = yield* Sender
    const started = yield* Clock.currentTimeMillis
    const send = sender.send(batch).pipe(
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
      traced("outbox.send", () => ({ links: publisherLinks(batch), attributes: { "outbox.batch_size": batch.length } }))
    )
    const results = token !== undefined && needsRenewal(resolved)
      ? yield* Effect.raceFirst(send, Effect.zipRight(renewWhileSending(resolved, token, batch.map((m) => m.id)), Effect.never))
      : yield* send
    const finished = yield* Clock.currentTimeMillis
    yield* Metric.update(OutboxMetrics.sendDuration, (finished - started) / 1000)
    return results
  })

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

/**
 * Sends a claimed batch and decides how to settle each of its messages (and
 * its malformed rows). `leased`: the claim holds a lease to renew while the send runs long.
 */
export const sendClaim = Effect.fnUntraced(function*(resolved: Resolved, claim: Claim, leased: boolean) {
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
  if (malformed.length === 0 && crashed.length === 0 && undecodable.length === 0) {
    return parkKeys(resolved, claim.messages, settled)
  }
  return parkKeys(resolved, [...claim.messages, ...malformed.map(malformedIdentity)], [
    ...malformed.map((row) => Completion.DeadLetter({ id: row.id, reason: "Malformed", error: row.error })),
    ...crashed,
    ...undecodable,
    ...settled
  ])
})

/** Records what a settled batch changed and tells the observer. */
export const reportBatch = Effect.fnUntraced(function*(
  claim: Claim,
  completions: ReadonlyArray<Completion>,
  completed: ReadonlySet<string>,
  fenced: number
) {
  const malformed = claim.malformed ?? []
  yield* recordOutcome(claim.messages, completions, completed)
  if (malformed.length > 0) yield* recordMalformed(malformed, completed)
  let sent = 0
  let retried = 0
  let deadLettered = 0
  for (const completion of completions) {
    if (!completed.has(completion.id)) continue
    if (completion._tag === "Ack") sent++
    else if (completion._tag === "Retry") retried++
    else if (completion._tag === "DeadLetter") deadLettered++
  }
  const summary: Summary = { claimed: claim.messages.length + malformed.length, sent, retried, deadLettered, fenced }
  const observer = yield* Effect.serviceOption(RelayObserver)
  if (Option.isSome(observer)) yield* observer.value.onBatch(summary)
  return summary
})

/** Reports a lease-mode batch once the store has settled it (fenced ones: another relay holds them now). */
export const reportSettled = (claim: Claim, completions: ReadonlyArray<Completion>, report: CompleteReport) =>
  Effect.zipRight(
    report.fenced.length === 0 ? Effect.void : Effect.logWarning(
      "Lost the lease of messages before completing them; their new holder settles them",
      { fenced: report.fenced.length }
    ),
    reportBatch(claim, completions, new Set(report.completed), report.fenced.length)
  )

/** Settles a lease-mode batch in one store write, and reports it. */
export const completeBatch = (claim: Claim, completions: ReadonlyArray<Completion>) =>
  Effect.flatMap(OutboxStore, (store) => store.complete(claim.token, completions)).pipe(
    traced("outbox.complete", () => ({ attributes: { "outbox.batch_size": completions.length } })),
    Effect.flatMap((report) => reportSettled(claim, completions, report))
  )

const claimSpan = (resolved: Resolved) =>
  traced("outbox.claim", () => ({ attributes: { "outbox.batch_limit": resolved.config.batchSize } }))

/** Claims a batch (lease mode). */
export const claimBatch = (resolved: Resolved) =>
  Effect.flatMap(OutboxStore, (store) => store.claim(resolved.claimOptions)).pipe(
    Effect.tap((claim) => Metric.update(OutboxMetrics.batchSize, claim.messages.length)),
    claimSpan(resolved)
  )

/** Acks an earlier batch and claims the next in one store write, reporting the earlier batch. */
export const ackAndClaimBatch = (resolved: Resolved, earlier: Claim, acks: ReadonlyArray<Completion>) =>
  Effect.flatMap(OutboxStore, (store) =>
    store.ackAndClaim === undefined
      ? Effect.flatMap(completeBatch(earlier, acks), () => store.claim(resolved.claimOptions))
      : store.ackAndClaim({ token: earlier.token, ids: acks.map((ack) => ack.id) }, resolved.claimOptions).pipe(
        Effect.tap(({ acked }) => reportSettled(earlier, acks, acked)),
        Effect.map(({ claim }) => claim)
      )).pipe(
      Effect.tap((claim) => Metric.update(OutboxMetrics.batchSize, claim.messages.length)),
      claimSpan(resolved)
    )

/** Hands a batch back untried (claimed just as shutdown began); its lease is the fallback. */
export const releaseClaim = (claim: Claim) =>
  Effect.flatMap(OutboxStore, (store) =>
    store.complete(
      claim.token,
      [...claim.messages, ...(claim.malformed ?? [])].map((message) => Completion.Release({ id: message.id }))
    )).pipe(
      Effect.tapError((error) =>
        Effect.logWarning("Could not hand back a batch claimed during shutdown; it is re-claimed when its lease expires", error)),
      Effect.ignore, // the lease is the fallback: nothing is lost
      Effect.as(emptySummary)
    )
