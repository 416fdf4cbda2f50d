/**
 * The names of the headers a message travels with, in one place: the trace
 * context captured at publish, the outbox's own headers every sender adds,
 * and the Standard Webhooks headers of a signed request. Senders and
 * receivers import them from here, so a sender and its consumer agree on
 * the wire.
 *
 * @example
 * import { MessageHeaders } from "@effect-outbox/core"
 *
 * // In a consumer of the AMQP or webhook sender:
 * declare const headers: Record<string, string>
 * const topic = headers[MessageHeaders.outbox.topic]
 * const attempt = Number(headers[MessageHeaders.outbox.attempt] ?? "1")
 *
 * @since 0.1.0
 */

/**
 * The W3C trace context header captured at publish, so the send span can link to it.
 *
 * @category constants
 * @since 0.1.0
 */
export const traceparent = "traceparent"

/**
 * The W3C vendor trace state that accompanies `traceparent`.
 *
 * @category constants
 * @since 0.1.0
 */
export const tracestate = "tracestate"

/**
 * The trace context headers a sender forwards when the message carries them.
 *
 * @category constants
 * @since 0.1.0
 */
export const traceContext: ReadonlyArray<string> = [traceparent, tracestate]

/**
 * The outbox's own headers, as HTTP (the webhook sender) and AMQP carry
 * them: the topic, the delivery attempt (1 for the first) and the ordering key
 * (present only when the message has one).
 *
 * @category constants
 * @since 0.1.0
 */
export const outbox = {
  topic: "outbox-topic",
  attempt: "outbox-attempt",
  key: "outbox-key"
} as const

/**
 * The same headers as the NATS sender writes them. NATS header names are
 * case-sensitive and conventionally capitalised, so a NATS consumer reads
 * these spellings.
 *
 * @category constants
 * @since 0.1.0
 */
export const outboxNats = {
  topic: "Outbox-Topic",
  attempt: "Outbox-Attempt",
  key: "Outbox-Key"
} as const

/**
 * The Standard Webhooks headers of a signed request: the message id, the send time and the signatures.
 *
 * @category constants
 * @since 0.1.0
 */
export const webhook = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature"
} as const
