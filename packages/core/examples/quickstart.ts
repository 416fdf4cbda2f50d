/**
 * The shortest real use: publish messages and let a relay deliver them, with
 * the in-memory store and in-process handlers (swap in the SQL store and a
 * webhook or broker sender for production).
 *
 *   npm run build && npx tsx packages/core/examples/quickstart.ts
 */
// #region readme-quickstart
import { HandlerSender, MemoryStore, Outbox, Relay, Topic } from "@effect-outbox/core"
import { Deferred, Effect, Layer, Schema } from "effect"

// 1. A topic: a name and the schema of its payloads.
const OrderCreated = Topic.make("order.created", Schema.Struct({ orderId: Schema.String, total: Schema.Number }))

const program = Effect.gen(function*() {
  const shipped = yield* Deferred.make<string>()

  // 2. Where messages go: here an in-process handler (a durable event bus).
  const Handlers = HandlerSender.layer(
    HandlerSender.handler(OrderCreated, (order) => Deferred.succeed(shipped, order.orderId))
  )

  // 3. The app: the producer and the relay over a store.
  const OutboxLive = Layer.mergeAll(Outbox.layer, Relay.layer()).pipe(
    Layer.provide(Handlers),
    Layer.provideMerge(MemoryStore.layer)
  )

  // 4. Publish (inside your database transaction, with the SQL store), and wait for the delivery.
  yield* Effect.gen(function*() {
    yield* Outbox.publish(OrderCreated, { orderId: "o-1", total: 42 }, { key: "customer-7" })
    yield* Effect.log(`delivered order ${yield* Deferred.await(shipped)}`)
  }).pipe(Effect.provide(OutboxLive))
})

Effect.runPromise(program)
// #endregion
