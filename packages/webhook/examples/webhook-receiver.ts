/**
 * A webhook receiver that verifies the outbox's Standard Webhooks signature
 * before accepting a delivery. Run it, then point `outbox run` at it:
 *
 *   WEBHOOK_SECRET=whsec_... npx tsx packages/webhook/examples/webhook-receiver.ts
 *
 * It answers 204 to a verified delivery, 401 to one that does not verify, and
 * 400 to a body that is not the Standard Webhooks envelope.
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
import { Config, Effect, Layer, Schema } from "effect"
import { createServer } from "node:http"

// The body the sender posts by default (WebhookSender's `Envelope`).
const Envelope = Schema.parseJson(Schema.Struct({ type: Schema.String, timestamp: Schema.String, data: Schema.Unknown }))

// #region readme-webhook-receive
const receive = Effect.gen(function*() {
  const secret = yield* Config.redacted("WEBHOOK_SECRET")
  const request = yield* HttpServerRequest.HttpServerRequest
  // Verify the bytes as received: re-serialised JSON would not match the signature.
  const body = new Uint8Array(yield* request.arrayBuffer)
  const { id } = yield* WebhookSignature.verify(secret, request.headers, body)
  const event = yield* Schema.decodeUnknown(Envelope)(new TextDecoder().decode(body))
  // Deliveries are at least once: a handler keyed on `id` makes a redelivery harmless.
  yield* Effect.log(`received ${event.type} ${id}`)
  return HttpServerResponse.empty({ status: 204 })
}).pipe(
  Effect.catchTags({
    WebhookVerificationError: (error) =>
      Effect.succeed(HttpServerResponse.unsafeJson({ error: error.message }, { status: 401 })),
    ParseError: () => Effect.succeed(HttpServerResponse.unsafeJson({ error: "not a webhook envelope" }, { status: 400 }))
  })
)
// #endregion

const ServerLive = HttpRouter.empty.pipe(
  HttpRouter.post("/webhooks", receive),
  HttpServer.serve(),
  HttpServer.withLogAddress,
  Layer.provide(NodeHttpServer.layer(() => createServer(), { port: 4000 }))
)

NodeRuntime.runMain(Layer.launch(ServerLive))
