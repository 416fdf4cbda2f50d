/**
 * @effect-outbox/redis: a Redis Streams sender for effect-outbox.
 *
 * @since 0.1.0
 */
export * as RedisStreamsSender from "./RedisStreamsSender.js"
export * as StreamEntry from "./StreamEntry.js"
