/**
 * @effect-outbox/core: the transactional outbox for Effect.
 *
 * @since 0.1.0
 */

/**
 * Broker URLs checked once: a URL, an accepted scheme, a host.
 *
 * @category modules
 * @since 0.1.0
 */
export * as BrokerUrl from "./BrokerUrl.js"

/**
 * The confirm-and-resend send: acks only what a broker confirmed, publishes the rest again on the next session.
 *
 * @category modules
 * @since 0.1.0
 */
export * as ConfirmedSend from "./ConfirmedSend.js"

/**
 * Dead letters: messages the relay gave up on, kept to list, replay or purge.
 *
 * @category modules
 * @since 0.1.0
 */
export * as DeadLetter from "./DeadLetter.js"

/**
 * The one way a duration is written as text.
 *
 * @category modules
 * @since 0.1.0
 */
export * as DurationText from "./DurationText.js"

/**
 * An in-process sender: Effect handlers by topic, typed by the topic's Schema.
 *
 * @category modules
 * @since 0.1.0
 */
export * as HandlerSender from "./HandlerSender.js"

/**
 * Leadership decides whether a relay may claim.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Leadership from "./Leadership.js"

/**
 * An in-memory `OutboxStore` with the full semantics of the contract.
 *
 * @category modules
 * @since 0.1.0
 */
export * as MemoryStore from "./MemoryStore.js"

/**
 * Messages as the store keeps them: JSON-shaped and schema-agnostic.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Message from "./Message.js"

/**
 * The names of the headers a message travels with, in one place.
 *
 * @category modules
 * @since 0.1.0
 */
export * as MessageHeaders from "./MessageHeaders.js"

/**
 * The one Schema a store turns a stored row into a message with.
 *
 * @category modules
 * @since 0.1.0
 */
export * as MessageRow from "./MessageRow.js"

/**
 * The producer side: publish messages into the outbox, inside the caller's transaction.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Outbox from "./Outbox.js"

/**
 * The metrics the outbox records, as Effect `Metric`s.
 *
 * @category modules
 * @since 0.1.0
 */
export * as OutboxMetrics from "./OutboxMetrics.js"

/**
 * The store contract: what the relay and the producer need from a place that keeps messages.
 *
 * @category modules
 * @since 0.1.0
 */
export * as OutboxStore from "./OutboxStore.js"

/**
 * Keeping secrets out of logs and error messages.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Redact from "./Redact.js"

/**
 * The relay drains the outbox: claim a batch, send it, settle it, again and again.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Relay from "./Relay.js"

/**
 * The relay's settings read through Effect `Config`, with the variable names and grammar of the runner (`outbox run`).
 *
 * @category modules
 * @since 0.1.0
 */
export * as RelayConfig from "./RelayConfig.js"

/**
 * A session supervisor for connection-oriented senders (NATS, AMQP, …).
 *
 * @category modules
 * @since 0.1.0
 */
export * as Reconnect from "./Reconnect.js"

/**
 * Retry policies are Effect `Schedule`s over failed attempts.
 *
 * @category modules
 * @since 0.1.0
 */
export * as RetryPolicy from "./RetryPolicy.js"

/**
 * Senders deliver claimed messages somewhere (a webhook, a broker, in-process handlers) and say, per message, how it went.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Sender from "./Sender.js"

/**
 * A `Sender` over one supervised broker connection.
 *
 * @category modules
 * @since 0.1.0
 */
export * as SupervisedSender from "./SupervisedSender.js"

/**
 * A topic names a stream of messages and the Schema of their payloads.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Topic from "./Topic.js"
