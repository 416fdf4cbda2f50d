/**
 * @effect-outbox/amqp: a RabbitMQ (AMQP 0-9-1) sender for effect-outbox.
 *
 * @since 0.1.0
 */

/**
 * A `Sender` that publishes to RabbitMQ (AMQP 0-9-1) on a confirm channel.
 *
 * @category modules
 * @since 0.1.0
 */
export * as AmqpSender from "./AmqpSender.js"
