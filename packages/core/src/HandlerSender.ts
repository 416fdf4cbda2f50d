/**
 * An in-process sender: Effect handlers by topic, typed by the topic's
 * Schema. With it the outbox is also a durable in-process event bus: a handler
 * runs at least once per message, after the publishing transaction committed,
 * with the relay's retries and dead letters.
 *
 * @example
 * import { Effect, Schema } from "effect"
 * import { HandlerSender, Topic } from "@effect-outbox/core"
 *
 * const OrderCreated = Topic.make("order.created", Schema.Struct({ orderId: Schema.String }))
 *
 * const SenderLive = HandlerSender.layer(
 *   HandlerSender.handler(OrderCreated, (order) => Effect.log(`order ${order.orderId} created`))
 * )
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { OutboxMessage } from "./Message.js"
import { Sender, SendResult } from "./Sender.js"
import * as Topic from "./Topic.js"

/**
 * A handler for one topic. `R` is what the handler needs from the context.
 *
 * @category models
 * @since 0.1.0
 */
export interface Handler<R> {
  readonly topic: string
  /** Decodes the payload and runs the handler; turns every outcome into a send result. */
  readonly run: (message: OutboxMessage) => Effect.Effect<SendResult, never, R>
}

/**
 * A handler for `topic`. The payload is decoded with the topic's schema first:
 * a payload that does not decode is `Rejected` as `Undecodable`. A handler
 * failure or defect is `Failed` (retried per the relay's policy): an in-process
 * handler that throws is usually a bug or a dependency that will come back,
 * and dead-lettering after the policy ends keeps the message for inspection.
 *
 * @category constructors
 * @since 0.1.0
 */
export const handler = <A, I, RT, E, R>(
  topic: Topic.Topic<A, I, RT>,
  handle: (payload: A, message: OutboxMessage) => Effect.Effect<unknown, E, R>
): Handler<R | RT> => ({
  topic: topic.name,
  run: (message) =>
    Topic.decode(topic, message).pipe(
      Effect.matchEffect({
        onFailure: (error) =>
          Effect.succeed(SendResult.Rejected({ id: message.id, error: error.message, reason: "Undecodable" })),
        onSuccess: (payload) =>
          handle(payload, message).pipe(
            Effect.as(SendResult.Sent({ id: message.id })),
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.interrupt
                : Effect.succeed(SendResult.Failed({ id: message.id, error: describe(cause) }))
            )
          )
      })
    )
})

const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

/**
 * Options for `make` and `layer`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Messages of one batch handled at once. Default 1: in claim order, one after another. */
  readonly concurrency?: number | "unbounded" | undefined
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- extracts R from a tuple of handlers
type HandlerContext<H extends ReadonlyArray<Handler<any>>> = H[number] extends Handler<infer R> ? R : never

/**
 * Two handlers were given for one topic: which one should run is not guessed.
 *
 * @category errors
 * @since 0.1.0
 */
export class DuplicateHandler extends Data.TaggedError("DuplicateHandler")<{ readonly topic: string }> {
  override get message() {
    return `Two handlers for topic "${this.topic}": give one per topic (compose them inside it to run several)`
  }
}

/**
 * Builds the sender from handlers; a message on a topic with no handler is
 * `Rejected`. Fails with `DuplicateHandler` when two handlers share a topic.
 *
 * @category constructors
 * @since 0.1.0
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see HandlerContext
export const make = <const H extends ReadonlyArray<Handler<any>>>(handlers: H, options: Options = {}) =>
  Effect.flatMap(Effect.context<HandlerContext<H>>(), (context) => {
    const byTopic = new Map<string, Handler<HandlerContext<H>>>()
    for (const entry of handlers) {
      if (byTopic.has(entry.topic)) return Effect.fail(new DuplicateHandler({ topic: entry.topic }))
      byTopic.set(entry.topic, entry)
    }
    return Effect.succeed(Sender.of({
      send: (batch) =>
        Effect.forEach(batch, (message) => {
          const entry = byTopic.get(message.topic)
          return entry === undefined
            ? Effect.succeed(SendResult.Rejected({ id: message.id, error: `no handler for topic "${message.topic}"` }))
            : Effect.provide(entry.run(message), context)
        }, { concurrency: options.concurrency ?? 1 })
    }))
  })

/**
 * The handler sender as a layer.
 *
 * @category layers
 * @since 0.1.0
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see HandlerContext
export const layer = <const H extends ReadonlyArray<Handler<any>>>(
  ...handlers: H
): Layer.Layer<Sender, DuplicateHandler, HandlerContext<H>> => Layer.effect(Sender, make(handlers))
