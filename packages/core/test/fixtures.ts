import { MemoryStore, Outbox, Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { Effect, Layer, Schema } from "effect"

export const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

/** A memory store, the producer over it, and a recording sender following `behaviour`. */
export const testEnv = (behaviour: RecordingSender.Behaviour = RecordingSender.alwaysSend) =>
  Layer.provideMerge(Outbox.layer, Layer.mergeAll(MemoryStore.layer, RecordingSender.layer(behaviour)))

/** Publishes `count` orders numbered from 1; returns their ids. */
export const publishOrders = (count: number) =>
  Outbox.publishAll(Array.from({ length: count }, (_, i) => ({ topic: OrderCreated, payload: { n: i + 1 } })))

/** Attempt timestamps (Clock millis) of one message, in order. */
export const attemptTimes = (id: string) =>
  Effect.map(RecordingSender.attempts, (all) => all.filter((a) => a.message.id === id).map((a) => a.at))
