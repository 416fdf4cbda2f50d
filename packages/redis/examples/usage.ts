/**
 * The Redis Streams sender in an app's layer graph, and from the runner's URL form.
 * Type-checked with the tests; the README quotes its regions.
 */
// #region readme-redis-layer
import { MemoryStore, Relay } from "@effect-outbox/core"
import { RedisStreamsSender } from "@effect-outbox/redis"
import { Config, Effect, Layer } from "effect"

// Append each message to the stream `outbox:<topic>`, at most once per 24 hours per message id.
const SenderLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const password = yield* Config.redacted("REDIS_PASSWORD")
    return RedisStreamsSender.layer({
      host: "127.0.0.1",
      port: 6379,
      password,
      streamPrefix: "outbox:",
      dedupeWindow: "24 hours",
      trim: { maxAge: "7 days" }, // MINID ~ <now − 7 days> on every append
      timeout: "5 seconds" // below the relay's sendTimeout
    })
  })
)

export const RelayLive = Relay.layer({ batchSize: 200, sendTimeout: "10 seconds" }).pipe(
  Layer.provide(SenderLive),
  Layer.provide(MemoryStore.layer) // in production: SqlOutboxStore.layer(...) from @effect-outbox/sql
)
// #endregion

// #region readme-redis-url
// The runner's form: everything in one URL, password included, kept Redacted.
export const SenderFromUrl = Layer.unwrapEffect(
  Effect.map(
    Config.redacted("OUTBOX_SENDER"), // redis://:secret@redis:6379/0?streamPrefix=outbox:&dedupeWindow=24h&maxLength=1000000
    (url) => RedisStreamsSender.layerFromUrl(url, { timeout: "5 seconds" })
  )
)
// #endregion
