/**
 * The AMQP sender in an app's layer graph, and from the runner's URL form.
 * Type-checked with the tests; the README quotes its regions.
 */
// #region readme-amqp-layer
import { MemoryStore, Relay } from "@effect-outbox/core"
import { AmqpSender } from "@effect-outbox/amqp"
import { Config, Effect, Layer } from "effect"

// Publish each message to the `outbox` topic exchange with its topic as routing key.
const SenderLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const url = yield* Config.redacted("AMQP_URL") // amqp://relay:secret@rabbit:5672/orders
    return AmqpSender.layer({
      url,
      exchange: "outbox",
      declareExchange: "topic",
      timeout: "5 seconds" // below the relay's sendTimeout
    })
  })
)

export const RelayLive = Relay.layer({ batchSize: 200, sendTimeout: "10 seconds" }).pipe(
  Layer.provide(SenderLive),
  Layer.provide(MemoryStore.layer) // in production: SqlOutboxStore.layer(...) from @effect-outbox/sql
)
// #endregion

// #region readme-amqp-url
// The runner's form: everything in one URL, kept Redacted.
export const SenderFromUrl = Layer.unwrapEffect(
  Effect.map(
    Config.redacted("OUTBOX_SENDER"), // amqp://relay:secret@rabbit:5672/orders?exchange=outbox&declareExchange=topic
    (url) => AmqpSender.layerFromUrl(url, { timeout: "5 seconds" })
  )
)
// #endregion
