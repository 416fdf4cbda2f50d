/**
 * What keeps one bad message from taking its batch, or the relay, with it:
 * rows that did not decode (`Malformed`), messages that keep crashing relays
 * (`maxLostClaims`), and defects in a drain step.
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { OutboxMessage } from "../Message.js"
import type { Malformed } from "../MessageRow.js"
import * as OutboxMetrics from "../OutboxMetrics.js"
import { Completion, type OutboxStoreError } from "../OutboxStore.js"

/** Splits off messages whose claims were lost to crashes `budget` times: dead-lettered `Exhausted`, unsent. */
export const checkLostClaims = (budget: number, batch: ReadonlyArray<OutboxMessage>): {
  readonly kept: ReadonlyArray<OutboxMessage>
  readonly crashed: ReadonlyArray<Completion>
} => {
  if (batch.every((message) => message.lostClaims < budget)) return { kept: batch, crashed: [] }
  const kept: Array<OutboxMessage> = []
  const crashed: Array<Completion> = []
  for (const message of batch) {
    if (message.lostClaims < budget) {
      kept.push(message)
    } else {
      crashed.push(Completion.DeadLetter({
        id: message.id,
        reason: "Exhausted",
        error:
          `its claim was lost ${message.lostClaims} times (the relay holding it crashed, hung or lost the store before recording a result; maxLostClaims is ${budget}): it may be what crashes relays`
      }))
    }
  }
  return { kept, crashed }
}

/** A malformed row's topic and key as far as they are known, so a malformed head of an ordered key parks it. */
export const malformedIdentity = (row: Malformed) => ({ id: row.id, topic: row.topic ?? "", key: row.key ?? null })

/** Logs and counts rows dead-lettered `Malformed` (they have no message to hand the dead-letter sink). */
export const recordMalformed = Effect.fnUntraced(function*(
  malformed: ReadonlyArray<Malformed>,
  completedIds: ReadonlySet<string>
) {
  let count = 0
  for (const row of malformed) {
    if (!completedIds.has(row.id)) continue
    count++
    yield* Effect.logWarning("A stored row does not decode; dead-lettered as Malformed").pipe(
      Effect.annotateLogs({ messageId: row.id, error: row.error })
    )
  }
  if (count > 0) yield* Metric.incrementBy(OutboxMetrics.forTopic(OutboxMetrics.deadLettered, "(malformed)"), count)
})

/**
 * A defect escaped a drain step (a bug in a retry policy, an observer, the
 * relay itself). The loop logs it, backs off and carries on: the batch keeps
 * its lease and is re-claimed when it expires, as after a crash.
 */
export class StepDefect extends Data.TaggedError("StepDefect")<{ readonly defect: unknown }> {
  override get message() {
    return `the relay hit a defect: ${Cause.pretty(Cause.die(this.defect)).split("\n")[0] ?? "unknown defect"}`
  }
}

/** Logs why a drain step failed: a defect, a statement the store refused, or a store out of reach. */
export const logStepError = (error: OutboxStoreError | StepDefect): Effect.Effect<void> =>
  error._tag === "StepDefect"
    ? Effect.logError("A drain step died; backing off and carrying on (its batch is re-claimed after its lease)", error.message)
    : error.kind === "Statement"
    ? Effect.logError("The outbox store refused a statement (an SQL error, not a lost connection); backing off", error.message)
    : Effect.logError("The relay could not reach the outbox store; backing off", error)
