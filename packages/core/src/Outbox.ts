/**
 * The producer side: publish messages into the outbox, inside the caller's
 * transaction when the store supports one (the SQL store joins
 * `sql.withTransaction`: a rollback means the message never existed).
 *
 * @example
 * import { Effect, Schema } from "effect"
 * import { Outbox, Topic } from "@effect-outbox/core"
 * import type { SqlClient } from "@effect/sql"
 *
 * interface Order { readonly id: string; readonly customerId: string; readonly total: number }
 * const OrderCreated = Topic.make("order.created", Schema.Struct({ orderId: Schema.String, total: Schema.Number }))
 * declare const sql: SqlClient.SqlClient
 * declare const insertOrder: (order: Order) => Effect.Effect<void>
 *
 * const placeOrder = (order: Order) =>
 *   sql.withTransaction(Effect.gen(function*() {
 *     yield* insertOrder(order)
 *     yield* Outbox.publish(OrderCreated, { orderId: order.id, total: order.total }, { key: order.customerId })
 *   }))
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type { Headers, MessageId, NewMessage } from "./Message.js"
import { currentTraceparent, traced } from "./internal/tracing.js"
import * as MessageHeaders from "./MessageHeaders.js"
import { hasControlCharacter } from "./MessageRow.js"
import * as OutboxMetrics from "./OutboxMetrics.js"
import { OutboxStore, type OutboxStoreError } from "./OutboxStore.js"
import * as Topic from "./Topic.js"

/**
 * Options of one publish.
 *
 * @category models
 * @since 0.1.0
 */
export interface PublishOptions {
  /** Messages with the same key keep their publish order in ordered mode. */
  readonly key?: string | undefined
  readonly headers?: Headers | undefined
  /** Deliver no earlier than this long after the commit. */
  readonly delay?: Duration.DurationInput | undefined
}

/**
 * One entry of `publishAll`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Publication<A, I, R> {
  readonly topic: Topic.Topic<A, I, R>
  readonly payload: A
  readonly options?: PublishOptions | undefined
}

/**
 * What every publication looks like, whatever its topic: the constraint of
 * `publishAll`'s entries, each of which is then checked against its own
 * topic's payload type (`Publications`).
 *
 * @category models
 * @since 0.1.0
 */
export interface AnyPublication {
  readonly topic: { readonly name: string; readonly schema: Schema.Schema.All }
  readonly payload: unknown
  readonly options?: PublishOptions | undefined
}

/**
 * An entry, as its topic says it must be: the payload of the topic's type.
 *
 * @category models
 * @since 0.1.0
 */
export type Checked<P> = P extends { readonly topic: Topic.Topic<infer A, infer I, infer R> } ? Publication<A, I, R>
  : never

/**
 * Entries of possibly different topics, each checked against its own topic.
 *
 * @category models
 * @since 0.1.0
 */
export type Publications<P extends ReadonlyArray<AnyPublication>> = { readonly [K in keyof P]: Checked<P[K]> }

/**
 * The context the entries' schemas need to encode.
 *
 * @category models
 * @since 0.1.0
 */
export type PublicationsContext<P extends ReadonlyArray<AnyPublication>> = P[number] extends infer E
  ? E extends { readonly topic: Topic.Topic<infer _A, infer _I, infer R> } ? R : never
  : never

/**
 * A message that cannot be stored as given: a header value that is not a
 * string, a topic, key or header value with a control character (a CR/LF
 * would split a header line on the way to a webhook or broker), or a payload
 * whose encoded JSON is over `OutboxOptions.maxPayloadBytes`. Nothing is written.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidMessage extends Data.TaggedError("InvalidMessage")<{
  readonly topic: string
  /** `topic`, `key` or `headers.<name>`. */
  readonly field: string
  readonly problem: string
}> {
  override get message() {
    return `Cannot publish to topic ${JSON.stringify(this.topic)}: ${this.field} ${this.problem}`
  }
}

/**
 * Why a publish failed: the payload did not encode, the message is invalid, or the store failed.
 *
 * @category models
 * @since 0.1.0
 */
export type PublishError = Topic.EncodeError | InvalidMessage | OutboxStoreError

const controlProblem = "contains a control character (CR, LF, NUL, …); remove it or encode the value"

// The checks the store's row schema (`MessageRow`) makes, made at publish, so a bad value is the caller's error.
const checkMessage = (message: NewMessage): InvalidMessage | undefined => {
  const invalid = (field: string, problem: string) => new InvalidMessage({ topic: message.topic, field, problem })
  if (message.topic.length === 0) return invalid("topic", "is empty")
  if (hasControlCharacter(message.topic)) return invalid("topic", controlProblem)
  if (message.key !== null && hasControlCharacter(message.key)) return invalid("key", controlProblem)
  for (const [name, value] of Object.entries(message.headers as Readonly<Record<string, unknown>>)) {
    if (typeof value !== "string") {
      return invalid(`headers.${name}`, `must be a string, not ${value === null ? "null" : typeof value}`)
    }
    if (hasControlCharacter(value)) return invalid(`headers.${name}`, controlProblem)
  }
  return undefined
}

/**
 * Options of the producer.
 *
 * @category models
 * @since 0.1.0
 */
export interface OutboxOptions {
  /**
   * The largest payload accepted, in bytes of its encoded JSON (UTF-8). A
   * bigger one fails the publish with `InvalidMessage` and nothing of the
   * batch is written. No limit when unset.
   */
  readonly maxPayloadBytes?: number | undefined
}

const utf8 = new TextEncoder()

const checkPayloadSize = (message: NewMessage, maxPayloadBytes: number | undefined): InvalidMessage | undefined => {
  if (maxPayloadBytes === undefined) return undefined
  // A payload that JSON cannot represent (undefined) is the store's to reject, not a size.
  const json = JSON.stringify(message.payload) as string | undefined
  const size = json === undefined ? 0 : utf8.encode(json).length
  return size > maxPayloadBytes
    ? new InvalidMessage({
      topic: message.topic,
      field: "payload",
      problem:
        `is ${size} bytes of JSON, over the limit of ${maxPayloadBytes} bytes (maxPayloadBytes); store the body elsewhere and publish a reference to it`
    })
    : undefined
}

/**
 * The producer service.
 *
 * @category tags
 * @since 0.1.0
 */
export class Outbox extends Context.Tag("@effect-outbox/core/Outbox")<Outbox, {
  readonly publish: <A, I, R>(
    topic: Topic.Topic<A, I, R>,
    payload: A,
    options?: PublishOptions
  ) => Effect.Effect<MessageId, PublishError, R>
  /** Entries may be of different topics; each payload is checked against its own topic. */
  readonly publishAll: <const P extends ReadonlyArray<AnyPublication>>(
    publications: P & Publications<P>
  ) => Effect.Effect<ReadonlyArray<MessageId>, PublishError, PublicationsContext<P>>
}>() {}

const encodeOne = <A, I, R>(
  publication: Publication<A, I, R>,
  traceparent: Option.Option<string>,
  maxPayloadBytes: number | undefined
): Effect.Effect<NewMessage, Topic.EncodeError | InvalidMessage, R> =>
  Effect.flatMap(Topic.encode(publication.topic, publication.payload), (payload) => {
    const options = publication.options ?? {}
    const headers: Record<string, string> = { ...options.headers }
    if (Option.isSome(traceparent) && headers[MessageHeaders.traceparent] === undefined) {
      headers[MessageHeaders.traceparent] = traceparent.value
    }
    const message: NewMessage = {
      topic: publication.topic.name,
      key: options.key ?? null,
      payload,
      headers,
      delay: options.delay === undefined ? undefined : Duration.decode(options.delay)
    }
    const invalid = checkMessage(message) ?? checkPayloadSize(message, maxPayloadBytes)
    return invalid === undefined ? Effect.succeed(message) : Effect.fail(invalid)
  })

/**
 * Builds the producer over the current `OutboxStore`, with options (a payload size limit).
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWith = (
  options: OutboxOptions = {}
): Effect.Effect<Context.Tag.Service<Outbox>, never, OutboxStore> =>
  Effect.gen(function*() {
    const store = yield* OutboxStore
    const { maxPayloadBytes } = options

  const publishAll = <const P extends ReadonlyArray<AnyPublication>>(publications: P & Publications<P>) =>
    Effect.gen(function*() {
      const traceparent = yield* currentTraceparent
      const messages = yield* Effect.forEach(
        // The signature checked each payload against its own topic; here they are encoded one by one.
        publications as ReadonlyArray<Publication<unknown, unknown, PublicationsContext<P>>>,
        (publication) => encodeOne(publication, traceparent, maxPayloadBytes)
      )
      const ids = yield* store.append(messages)
      const perTopic = new Map<string, number>()
      for (const message of messages) perTopic.set(message.topic, (perTopic.get(message.topic) ?? 0) + 1)
      for (const [topic, count] of perTopic) {
        yield* Metric.incrementBy(OutboxMetrics.forTopic(OutboxMetrics.published, topic), count)
      }
      return ids
    }).pipe(traced("outbox.publish", () => ({ attributes: { "outbox.count": publications.length } })))

  const publish = <A, I, R>(topic: Topic.Topic<A, I, R>, payload: A, options?: PublishOptions) =>
    Effect.flatMap(publishAll<ReadonlyArray<Publication<A, I, R>>>([{ topic, payload, options }]), (ids) =>
      // append returns one id per message; an empty answer is a store bug worth a defect.
      ids[0] === undefined ? Effect.dieMessage("OutboxStore.append returned no id") : Effect.succeed(ids[0]))

  return Outbox.of({ publish, publishAll })
})

/**
 * Builds the producer over the current `OutboxStore`, without a payload size limit.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<Context.Tag.Service<Outbox>, never, OutboxStore> = makeWith()

/**
 * The producer layer, over whichever `OutboxStore` the app provides.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Outbox, never, OutboxStore> = Layer.effect(Outbox, make)

/**
 * The producer layer with options, e.g. a payload size limit:
 * `Outbox.layerWith({ maxPayloadBytes: 256 * 1024 })`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerWith = (options: OutboxOptions): Layer.Layer<Outbox, never, OutboxStore> =>
  Layer.effect(Outbox, makeWith(options))

/**
 * Publishes one message; returns its id (the idempotency key consumers dedupe on).
 *
 * @category operations
 * @since 0.1.0
 */
export const publish = <A, I, R>(
  topic: Topic.Topic<A, I, R>,
  payload: A,
  options?: PublishOptions
): Effect.Effect<MessageId, PublishError, R | Outbox> =>
  Effect.flatMap(Outbox, (outbox) => outbox.publish(topic, payload, options))

/**
 * Publishes several messages in one store write, in order; returns their ids,
 * in the same order. Entries may be of different topics: each payload is
 * checked against its own topic's schema.
 *
 * @example
 * import { Effect, Schema } from "effect"
 * import { Outbox, Topic } from "@effect-outbox/core"
 *
 * const OrderPlaced = Topic.make("order.placed", Schema.Struct({ orderId: Schema.String, total: Schema.Number }))
 * const OrderPaid = Topic.make("order.paid", Schema.Struct({ orderId: Schema.String }))
 *
 * const program = Effect.gen(function*() {
 *   yield* Outbox.publishAll([
 *     { topic: OrderPlaced, payload: { orderId: "o-1", total: 42 } },
 *     { topic: OrderPaid, payload: { orderId: "o-1" }, options: { key: "o-1" } }
 *   ])
 * })
 *
 * @category operations
 * @since 0.1.0
 */
export const publishAll = <const P extends ReadonlyArray<AnyPublication>>(
  publications: P & Publications<P>
): Effect.Effect<ReadonlyArray<MessageId>, PublishError, PublicationsContext<P> | Outbox> =>
  Effect.flatMap(Outbox, (outbox) => outbox.publishAll(publications))
