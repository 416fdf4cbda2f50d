/**
 * Senders deliver claimed messages somewhere (a webhook, a broker, in-process
 * handlers) and say, per message, how it went.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { MessageId, OutboxMessage } from "./Message.js"

/**
 * The outcome of sending one message.
 *
 * @category models
 * @since 0.1.0
 */
export type SendResult = Data.TaggedEnum<{
  /** Delivered (acknowledged by the receiver): ack it. */
  Sent: { readonly id: MessageId }
  /** A transient failure: retry per the retry policy, not before `retryAfter` when the receiver asked. */
  Failed: { readonly id: MessageId; readonly error: string; readonly retryAfter?: Duration.Duration | undefined }
  /** A permanent failure: dead-letter now with reason `Rejected` (or `Undecodable`). */
  Rejected: { readonly id: MessageId; readonly error: string; readonly reason?: "Rejected" | "Undecodable" | undefined }
}>

/**
 * Constructors and matchers for `SendResult`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const SendResult = Data.taggedEnum<SendResult>()

/**
 * The whole batch failed (connection refused, broker down): every message in it counts as `Failed`.
 *
 * @category errors
 * @since 0.1.0
 */
export class SendError extends Data.TaggedError("SendError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return `Send failed: ${this.reason}`
  }
}

/**
 * A failed send's cause as one line: the `SendError`'s reason, or the defect's
 * first line (`the sender died: TypeError: …`).
 *
 * @category utils
 * @since 0.1.0
 */
export const describeFailure = (cause: Cause.Cause<SendError>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") return failure.value.reason
  return `the sender died: ${Cause.pretty(cause).split("\n")[0] ?? "unknown defect"}`
}

/**
 * The sender service. It should return one result per message; a missing one counts as `Failed`.
 *
 * @category tags
 * @since 0.1.0
 */
export class Sender extends Context.Tag("@effect-outbox/core/Sender")<Sender, {
  readonly send: (batch: ReadonlyArray<OutboxMessage>) => Effect.Effect<ReadonlyArray<SendResult>, SendError>
}>() {}

/**
 * Builds a sender from a function that sends one message, sending up to
 * `concurrency` messages of a batch at once. A failure of `sendOne` fails only
 * that message, and so does a defect (a throw while building its request): the
 * message is `Failed` with the defect as its error, its batch mates go on.
 *
 * @category constructors
 * @since 0.1.0
 */
export const perMessage = <R>(
  sendOne: (message: OutboxMessage) => Effect.Effect<SendResult, SendError, R>,
  options?: { readonly concurrency?: number | "unbounded" | undefined }
): Effect.Effect<Context.Tag.Service<Sender>, never, R> =>
  Effect.map(Effect.context<R>(), (context) => ({
    send: (batch) =>
      Effect.forEach(
        batch,
        (message) =>
          Effect.suspend(() => sendOne(message)).pipe(
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.interrupt
                : Effect.succeed(SendResult.Failed({ id: message.id, error: describeFailure(cause) }))
            ),
            Effect.provide(context)
          ),
        { concurrency: options?.concurrency ?? "unbounded" }
      )
  }))
