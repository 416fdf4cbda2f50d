/**
 * A topic names a stream of messages and the Schema of their payloads.
 *
 * @example
 * import { Schema } from "effect"
 * import { Topic } from "@effect-outbox/core"
 *
 * const OrderCreated = Topic.make("order.created", Schema.Struct({ orderId: Schema.String, total: Schema.Number }))
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { OutboxMessage } from "./Message.js"

/**
 * A topic: its name and the Schema that encodes payloads at publish and decodes them for consumers.
 *
 * @category models
 * @since 0.1.0
 */
export interface Topic<A, I = A, R = never> {
  readonly name: string
  readonly schema: Schema.Schema<A, I, R>
}

/**
 * Any topic, whatever its payload type.
 *
 * @category models
 * @since 0.1.0
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance escape hatch for heterogeneous registries
export type Any = Topic<any, any, any>

/**
 * Any topic whose schema needs no services: what the relay can decode on its own.
 *
 * @category models
 * @since 0.1.0
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance escape hatch for heterogeneous registries
export type AnyNoContext = Topic<any, any, never>

/**
 * The payload type of a topic.
 *
 * @category models
 * @since 0.1.0
 */
export type Type<T> = T extends Topic<infer A, infer _I, infer _R> ? A : never

/**
 * Makes a topic. The name is what stores, brokers and webhooks see.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <A, I, R>(name: string, schema: Schema.Schema<A, I, R>): Topic<A, I, R> => ({ name, schema })

/**
 * A payload that its topic's schema could not encode at publish: the message is not written.
 *
 * @category errors
 * @since 0.1.0
 */
export class EncodeError extends Data.TaggedError("EncodeError")<{
  readonly topic: string
  readonly issue: string
}> {
  override get message() {
    return `Cannot publish to topic "${this.topic}": the payload does not match its schema: ${this.issue}`
  }
}

/**
 * A stored payload that its topic's schema could not decode: such a message is dead-lettered as `Undecodable`.
 *
 * @category errors
 * @since 0.1.0
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly topic: string
  readonly messageId: string
  readonly issue: string
}> {
  override get message() {
    return `Message ${this.messageId} on topic "${this.topic}" does not decode with the topic's schema: ${this.issue}`
  }
}

/**
 * Encodes a payload with the topic's schema, into the JSON value the store keeps.
 *
 * @category utils
 * @since 0.1.0
 */
export const encode = <A, I, R>(topic: Topic<A, I, R>, payload: A): Effect.Effect<I, EncodeError, R> =>
  Schema.encode(topic.schema)(payload).pipe(
    Effect.mapError((error) =>
      new EncodeError({ topic: topic.name, issue: ParseResult.TreeFormatter.formatErrorSync(error) })
    )
  )

/**
 * Decodes a stored message's payload with the topic's schema.
 *
 * @category utils
 * @since 0.1.0
 */
export const decode = <A, I, R>(topic: Topic<A, I, R>, message: OutboxMessage): Effect.Effect<A, DecodeError, R> =>
  Schema.decodeUnknown(topic.schema)(message.payload).pipe(
    Effect.mapError((error) =>
      new DecodeError({
        topic: topic.name,
        messageId: message.id,
        issue: ParseResult.TreeFormatter.formatErrorSync(error)
      })
    )
  )
