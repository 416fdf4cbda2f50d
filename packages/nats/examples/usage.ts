/**
 * The NATS sender in an app's layer graph, and from the runner's URL form.
 * Type-checked with the tests; the README quotes its regions.
 */
// #region readme-nats-layer
import { MemoryStore, Relay } from "@effect-outbox/core"
import { NatsSender } from "@effect-outbox/nats"
import { Config, Effect, Layer } from "effect"

// Publish each message to JetStream on `outbox.<topic>`, in a stream the sender creates if missing.
const SenderLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const password = yield* Config.redacted("NATS_PASSWORD")
    return NatsSender.layer({
      servers: "nats://127.0.0.1:4222",
      subjectPrefix: "outbox.",
      stream: { name: "OUTBOX", create: true },
      credentials: { user: "relay", password },
      timeout: "5 seconds" // below the relay's sendTimeout
    })
  })
)

export const RelayLive = Relay.layer({ batchSize: 200, sendTimeout: "10 seconds" }).pipe(
  Layer.provide(SenderLive),
  Layer.provide(MemoryStore.layer) // in production: SqlOutboxStore.layer(...) from @effect-outbox/sql
)
// #endregion

// #region readme-nats-url
// The runner's form: everything in one URL, credentials included, kept Redacted.
export const SenderFromUrl = Layer.unwrapEffect(
  Effect.map(
    Config.redacted("OUTBOX_SENDER"), // nats://relay:secret@nats:4222?stream=OUTBOX&createStream=true&subjectPrefix=outbox.
    (url) => NatsSender.layerFromUrl(url, { timeout: "5 seconds" })
  )
)
// #endregion
