/**
 * Publishes 100 messages with the memory store, drains them through a scripted
 * sender that fails some transiently, fails some for good and rejects some,
 * and prints what happened.
 *
 *   npm run build && npx tsx packages/core/examples/retries.ts
 */
import { MemoryStore, Outbox, OutboxStore, Relay, RetryPolicy, Topic } from "@effect-outbox/core"
// The testing entry also holds the vitest-based store suite; outside vitest import its modules directly.
import * as Drain from "@effect-outbox/core/testing/Drain"
import * as RecordingSender from "@effect-outbox/core/testing/RecordingSender"
import { Console, Effect, Layer, Schema } from "effect"

const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

const orderNumber = (payload: unknown) => Schema.decodeUnknownSync(OrderCreated.schema)(payload).n

// Every 10th order is rejected (a 4xx), every 7th fails twice then succeeds,
// every 13th never succeeds (its retries run out).
const receiver: RecordingSender.Behaviour = (message, handedCount) => {
  const n = orderNumber(message.payload)
  if (n % 10 === 0) return "rejected"
  if (n % 13 === 0) return "failed"
  if (n % 7 === 0 && handedCount <= 2) return "failed"
  return "sent"
}

const program = Effect.gen(function*() {
  yield* Outbox.publishAll(Array.from({ length: 100 }, (_, i) => ({ topic: OrderCreated, payload: { n: i + 1 } })))
  const stats = yield* Drain.untilDrained({ timeout: "10 seconds" })
  const attempts = yield* RecordingSender.attempts
  const store = yield* OutboxStore.OutboxStore
  const dead = yield* store.deadLetters.list({})
  yield* Console.log(`sent:    ${attempts.filter((a) => a.outcome === "sent").length}`)
  yield* Console.log(`retried: ${attempts.filter((a) => a.outcome === "failed").length - dead.filter((d) => d.reason === "Exhausted").length}`)
  yield* Console.log(`dead:    ${stats.dead} (${dead.filter((d) => d.reason === "Rejected").length} rejected, ${dead.filter((d) => d.reason === "Exhausted").length} exhausted)`)
})

const Store = MemoryStore.layer
const Sender = RecordingSender.layer(receiver)
const RelayLive = Relay.layer({
  batchSize: 20,
  pollInterval: "50 millis",
  retryPolicy: RetryPolicy.fixed({ delay: "20 millis", maxAttempts: 3 })
})

const App = Layer.mergeAll(Outbox.layer, RelayLive).pipe(Layer.provideMerge(Layer.merge(Store, Sender)))

Effect.runPromise(program.pipe(Effect.provide(App)))
