import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { OutboxMessage } from "../Message.js"
import { Completion } from "../OutboxStore.js"
import * as RetryPolicy from "../RetryPolicy.js"
import { SendResult } from "../Sender.js"

/** Turns each message's send result into how the store should settle it. */
export const completionFor = (
  message: OutboxMessage,
  result: SendResult,
  policyFor: RetryPolicy.Selector
): Effect.Effect<Completion> =>
  SendResult.$match(result, {
    Sent: () => Effect.succeed(Completion.Ack({ id: message.id })),
    Rejected: ({ error, reason }) =>
      Effect.succeed(Completion.DeadLetter({ id: message.id, reason: reason ?? "Rejected", error })),
    Failed: ({ error, retryAfter }) =>
      Effect.map(
        RetryPolicy.decide(policyFor(message.topic), { attempt: message.attempts, topic: message.topic, error }),
        RetryPolicy.Decision.$match({
          Exhausted: () => Completion.DeadLetter({ id: message.id, reason: "Exhausted", error }),
          Retry: ({ delay }) =>
            Completion.Retry({
              id: message.id,
              // The receiver's Retry-After is a floor: never retry sooner than it asked.
              delay: retryAfter === undefined ? delay : Duration.max(delay, retryAfter),
              error
            })
        })
      )
  })

/** Pairs each message with its result; a message the sender gave no result for counts as failed. */
export const resultsByMessage = (
  batch: ReadonlyArray<OutboxMessage>,
  results: ReadonlyArray<SendResult>
): ReadonlyArray<readonly [OutboxMessage, SendResult]> => {
  const byId = new Map(results.map((result) => [result.id, result]))
  return batch.map((message) => [
    message,
    byId.get(message.id) ?? SendResult.Failed({ id: message.id, error: "the sender returned no result for this message" })
  ])
}
