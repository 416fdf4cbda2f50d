// The README's "Testing your app" section is the region below, verbatim (Readme.test.ts checks it).
// #region readme-testing
import { MemoryStore, Outbox, Relay, RetryPolicy, Topic } from "@effect-outbox/core"
import { Drain, RecordingSender } from "@effect-outbox/core/testing"
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"

const OrderCreated = Topic.make("order.created", Schema.Struct({ orderId: Schema.String }))

// The app code under test: publishes inside its unit of work.
const placeOrder = (orderId: string) => Outbox.publish(OrderCreated, { orderId })

// No database, no network, no sleeps: the memory store, a sender that fails
// each message's first delivery, and the relay, all under the TestClock.
const TestOutbox = Layer.mergeAll(
  Outbox.layer,
  Relay.layer({ retryPolicy: RetryPolicy.fixed({ delay: "5 seconds" }) })
).pipe(Layer.provideMerge(Layer.merge(MemoryStore.layer, RecordingSender.layer(RecordingSender.failFirst(1)))))

it.effect("an order's event is delivered, after one retry", () =>
  Effect.gen(function*() {
    const id = yield* placeOrder("o-1")
    yield* Drain.untilDrained({ clock: "test" }) // advances the TestClock past the retry delay
    expect(yield* RecordingSender.sentIds).toEqual([id])
    expect((yield* RecordingSender.attempts).map((attempt) => attempt.at)).toEqual([0, 5_000])
  }).pipe(Effect.provide(TestOutbox)))
// #endregion
