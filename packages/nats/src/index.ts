/**
 * @effect-outbox/nats: a NATS JetStream sender for effect-outbox.
 *
 * @since 0.1.0
 */

/**
 * A `Sender` that publishes to NATS JetStream.
 *
 * @category modules
 * @since 0.1.0
 */
export * as NatsSender from "./NatsSender.js"
