/**
 * A receiver with only @effect-outbox/webhook (and effect) installed: a request
 * signed the Standard Webhooks way, independently of our code, verifies; a
 * tampered body does not.
 */
import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
import { Effect, Either, Redacted } from "effect"
import { createHmac, randomBytes } from "node:crypto"

const key = randomBytes(24)
const secret = Redacted.make(`whsec_${key.toString("base64")}`)
const id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
const timestamp = Math.floor(Date.now() / 1000)
const body = JSON.stringify({ type: "order.created", timestamp: new Date().toISOString(), data: { orderId: "o-1" } })
const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")
const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${signature}` }

const check = Effect.gen(function*() {
  const verified = yield* WebhookSignature.verify(secret, headers, body)
  if (verified.id !== id) return yield* Effect.dieMessage(`verified the wrong id: ${verified.id}`)
  const tampered = yield* Effect.either(WebhookSignature.verify(secret, headers, body.replace("o-1", "o-2")))
  if (Either.isRight(tampered)) return yield* Effect.dieMessage("a tampered body verified")
  console.log(`webhook: signature of ${id} verified; tampered body refused (${tampered.left.message})`)
})

Effect.runPromise(check).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
