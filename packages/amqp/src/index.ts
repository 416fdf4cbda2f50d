/**
 * @effect-outbox/amqp: a RabbitMQ (AMQP 0-9-1) sender for effect-outbox.
 *
 * @since 0.1.0
 */
export * as AmqpSender from "./AmqpSender.js"
