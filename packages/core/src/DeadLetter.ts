/**
 * Dead letters: messages the relay gave up on. They are kept, never silently
 * dropped, and can be listed, replayed (back to pending, attempts reset) or purged.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { MessageId, OutboxMessage } from "./Message.js"

/**
 * Why a message was dead-lettered:
 * - `Exhausted`: the retry policy's schedule ended.
 * - `Rejected`: the sender said the failure is permanent (a 4xx, an unroutable message).
 * - `Undecodable`: the payload does not decode with its topic's schema.
 * - `Malformed`: the stored row itself does not decode (a header that is not a
 *   string, an `infinity` date, …): the last error names the field.
 *
 * @category models
 * @since 0.1.0
 */
export type Reason = "Exhausted" | "Rejected" | "Undecodable" | "Malformed"

/**
 * Every reason, for parsing filters and validating input.
 *
 * @category constants
 * @since 0.1.0
 */
export const reasons: ReadonlyArray<Reason> = ["Exhausted", "Rejected", "Undecodable", "Malformed"]

/**
 * A dead-lettered message with why and when. `attempts` is the number of the
 * attempt during which it died. A `Malformed` letter keeps its row as stored,
 * so its fields may not hold what their types say (an invalid date, a header
 * that is not a string).
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetter extends OutboxMessage {
  readonly reason: Reason
  readonly lastError: string
  readonly deadAt: Date
  /** This letter parks its key: ordered delivery of the key waits until it is replayed or purged. */
  readonly parksKey: boolean
}

/**
 * A key held back in ordered delivery because its head was dead-lettered under
 * the `block` policy. Replaying the letter resumes the key from it; purging it
 * resumes the key from the next message.
 *
 * @category models
 * @since 0.1.0
 */
export interface ParkedKey {
  readonly key: string
  /** The dead letter that parks the key. */
  readonly messageId: MessageId
  readonly topic: string
  readonly reason: Reason
  readonly lastError: string
  /** When the key was parked (the letter's `deadAt`). */
  readonly since: Date
}

/**
 * Selects dead letters for list, replay and purge. Every given field must match.
 *
 * @category models
 * @since 0.1.0
 */
export interface Filter {
  readonly topic?: string | undefined
  readonly reason?: Reason | undefined
  readonly ids?: ReadonlyArray<MessageId> | undefined
  /** Only letters that died at least this long ago. */
  readonly olderThan?: Duration.Duration | undefined
  /** At most this many, oldest first (by id). */
  readonly limit?: number | undefined
}

/**
 * A hook called after the relay dead-letters a message, to forward it as well
 * (a DLQ topic, an alert). The letter is already kept in the store; a failing
 * sink is logged and does not undo that.
 *
 * @category tags
 * @since 0.1.0
 */
export class DeadLetterSink extends Context.Tag("@effect-outbox/core/DeadLetterSink")<
  DeadLetterSink,
  { readonly onDeadLetter: (letter: DeadLetter) => Effect.Effect<void> }
>() {}

/**
 * A sink that does nothing: the default when the app provides none.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerNoop: Layer.Layer<DeadLetterSink> = Layer.succeed(DeadLetterSink, {
  onDeadLetter: () => Effect.void
})
