/**
 * Messages as the store keeps them: JSON-shaped and schema-agnostic. Schema
 * encoding happens once, above the store (see `Topic` and `Outbox`).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as MessageHeaders from "./MessageHeaders.js"

/**
 * The id of a stored message. It is the idempotency key consumers dedupe on:
 * it travels to brokers and webhooks as a header.
 *
 * @category models
 * @since 0.1.0
 */
export type MessageId = string

/**
 * String headers carried with a message (trace context, content type, app headers).
 *
 * @category models
 * @since 0.1.0
 */
export type Headers = Readonly<Record<string, string>>

/**
 * A message as a store hands it to the relay and the relay hands it to a sender.
 *
 * @category models
 * @since 0.1.0
 */
export interface OutboxMessage {
  readonly id: MessageId
  readonly topic: string
  /** Messages with the same key may be delivered in publish order (ordered mode). */
  readonly key: string | null
  /** The payload as encoded by the topic's schema: a JSON value. */
  readonly payload: unknown
  readonly headers: Headers
  /**
   * Which delivery attempt this is: failed sends so far plus one (1 on the first
   * delivery). A claim lost to a crash (its lease expired with no result) does not
   * count here, so a redelivery after a crash repeats the number: see `lostClaims`.
   */
  readonly attempts: number
  /**
   * Claims of this message whose lease expired before a result was recorded (a
   * relay crashed, hung or lost its database while holding it). Counted apart
   * from failed sends, against the relay's `maxLostClaims`.
   */
  readonly lostClaims: number
  readonly createdAt: Date
  /** When the message became (or becomes) claimable: publish time plus delay, or the next retry. */
  readonly availableAt: Date
}

/**
 * A message to append: what `Outbox.publish` hands the store once the payload is encoded.
 *
 * @category models
 * @since 0.1.0
 */
export interface NewMessage {
  readonly topic: string
  readonly key: string | null
  readonly payload: unknown
  readonly headers: Headers
  /** Hold the message back this long after it is appended; claimable at once when absent. */
  readonly delay?: Duration.Duration | undefined
}

/**
 * Orders message ids as the store drew them, ascending. An id is a decimal
 * string of any length (Postgres's bigint passes 2^53), so ids compare by
 * length, then by text: exact where `Number(id)` would not be.
 *
 * @category utils
 * @since 0.1.0
 */
export const compareIds = (a: MessageId, b: MessageId): number =>
  a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)

/**
 * The W3C trace context header captured at publish, so the send span can link to it (see `MessageHeaders`).
 *
 * @category constants
 * @since 0.1.0
 */
export const traceparentHeader = MessageHeaders.traceparent
