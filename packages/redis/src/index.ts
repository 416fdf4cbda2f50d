/**
 * @effect-outbox/redis: a Redis Streams sender for effect-outbox.
 *
 * @since 0.1.0
 */

/**
 * A `Sender` that appends to Redis Streams.
 *
 * @category modules
 * @since 0.1.0
 */
export * as RedisStreamsSender from "./RedisStreamsSender.js"

/**
 * The fields of a stream entry the Redis sender appends, and their decoding for consumers.
 *
 * @category modules
 * @since 0.1.0
 */
export * as StreamEntry from "./StreamEntry.js"
