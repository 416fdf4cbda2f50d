import { HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { MemoryStore, Outbox, OutboxStore, Relay, RetryPolicy, Sender, Topic } from "@effect-outbox/core"
import type { OutboxMessage } from "@effect-outbox/core/Message"
import * as WebhookSender from "@effect-outbox/webhook/WebhookSender"
import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Redacted, Ref, Schema, TestClock } from "effect"
import { createServer } from "node:http"

const now = Date.parse("2026-03-01T12:00:00Z")
const secret = Redacted.make("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

interface Received {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

type Reply = { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string } | "hang"

/** A local webhook receiver on an ephemeral port that answers as `reply` says and records every request. */
const startReceiver = (reply: (request: Received, count: number) => Reply) =>
  Effect.gen(function*() {
    const received = yield* Ref.make<ReadonlyArray<Received>>([])
    const arrived = yield* Deferred.make<void>()
    yield* HttpServer.serveEffect(Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const entry = { url: request.url, headers: request.headers, body: yield* request.text }
      const count = yield* Ref.modify(received, (all) => [all.length + 1, [...all, entry]])
      yield* Deferred.succeed(arrived, undefined)
      const answer = reply(entry, count)
      if (answer === "hang") return yield* Effect.never
      return HttpServerResponse.text(answer.body ?? "", { status: answer.status, headers: answer.headers ?? {} })
    }))
    const { address } = yield* HttpServer.HttpServer
    const port = address._tag === "TcpAddress" ? address.port : 0
    return { port, url: `http://127.0.0.1:${port}/hooks`, received: Ref.get(received), arrived: Deferred.await(arrived) }
  })

const ReceiverLive = Layer.mergeAll(
  NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }),
  NodeHttpClient.layerUndici
)

const message = (overrides: Partial<OutboxMessage> = {}): OutboxMessage => ({
  id: "42",
  topic: "order.created",
  key: "order-7",
  payload: { orderId: 7, total: 19.5 },
  headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
  attempts: 1,
  lostClaims: 0,
  createdAt: new Date("2026-03-01T11:59:00Z"),
  availableAt: new Date("2026-03-01T11:59:00Z"),
  ...overrides
})

const sendOne = (options: WebhookSender.Options, msg: OutboxMessage = message()) =>
  Effect.gen(function*() {
    const sender = yield* WebhookSender.make(options)
    const [result] = yield* sender.send([msg])
    return result ?? (yield* Effect.dieMessage("the sender returned no result"))
  })

describe("WebhookSender", () => {
  it.scoped("2xx → Sent: a signed Standard Webhooks POST that the receiver can verify", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const receiver = yield* startReceiver(() => ({ status: 204 }))
      const result = yield* sendOne({ url: receiver.url, secret, timeout: "5 seconds" })
      expect(result).toEqual(Sender.SendResult.Sent({ id: "42" }))

      const [request] = yield* receiver.received
      expect(request?.headers).toMatchObject({
        "content-type": "application/json",
        "webhook-id": "42",
        "webhook-timestamp": String(now / 1000),
        "outbox-topic": "order.created",
        "outbox-attempt": "1",
        "outbox-key": "order-7",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      })
      expect(JSON.parse(request?.body ?? "")).toEqual({
        type: "order.created",
        timestamp: "2026-03-01T11:59:00.000Z",
        data: { orderId: 7, total: 19.5 }
      })
      const verified = yield* WebhookSignature.verify(secret, request?.headers ?? {}, request?.body ?? "")
      expect(verified.id).toBe("42")
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("body: payload sends the bare payload; without a secret nothing is signed", () =>
    Effect.gen(function*() {
      const receiver = yield* startReceiver(() => ({ status: 200, body: "ok" }))
      const result = yield* sendOne({ url: receiver.url, body: "payload" })
      expect(result._tag).toBe("Sent")
      const [request] = yield* receiver.received
      expect(JSON.parse(request?.body ?? "")).toEqual({ orderId: 7, total: 19.5 })
      expect(request?.headers["webhook-signature"]).toBeUndefined()
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("4xx → Rejected, naming the status; 408 and 429 are transient", () =>
    Effect.gen(function*() {
      const statuses = [400, 404, 410, 422, 408, 429]
      const receiver = yield* startReceiver((_, count) => ({
        status: statuses[count - 1] ?? 500,
        body: "{\"error\": \"field total must be an integer\"}"
      }))
      const results = []
      for (const _ of statuses) results.push(yield* sendOne({ url: receiver.url }))
      expect(results.map((result) => result._tag)).toEqual([
        "Rejected",
        "Rejected",
        "Rejected",
        "Rejected",
        "Failed",
        "Failed"
      ])
      expect(results[3]).toMatchObject({
        error: `http://127.0.0.1:${receiver.port}/hooks answered HTTP 422 Unprocessable Entity: {"error": "field total must be an integer"}`
      })
      expect(results[5]).toMatchObject({ error: expect.stringContaining("HTTP 429 Too Many Requests") })
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("5xx → Failed; a redirect → Rejected at once (it is not followed, so trying again cannot help)", () =>
    Effect.gen(function*() {
      const statuses = [500, 502, 503, 301, 307]
      const receiver = yield* startReceiver((_, count) => ({
        status: statuses[count - 1] ?? 500,
        headers: { location: "https://elsewhere.example/" }
      }))
      const results = []
      for (const _ of statuses) results.push(yield* sendOne({ url: receiver.url }))
      expect(results.map((result) => result._tag)).toEqual(["Failed", "Failed", "Failed", "Rejected", "Rejected"])
      expect(results[3]).toMatchObject({ error: expect.stringContaining("redirects are not followed") })
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("a non-ASCII topic or key travels percent-encoded in its header (raw in the envelope); a bad traceparent is left out", () =>
    Effect.gen(function*() {
      const receiver = yield* startReceiver(() => ({ status: 204 }))
      const result = yield* sendOne(
        { url: receiver.url },
        message({ topic: "order.créé 🎉", key: "clé 100%", headers: { traceparent: "00-🎉-01" } })
      )
      expect(result._tag).toBe("Sent")
      const [request] = yield* receiver.received
      expect(request?.headers["outbox-topic"]).toBe("order.cr%C3%A9%C3%A9%20%F0%9F%8E%89")
      expect(decodeURIComponent(request?.headers["outbox-topic"] ?? "")).toBe("order.créé 🎉")
      expect(decodeURIComponent(request?.headers["outbox-key"] ?? "")).toBe("clé 100%")
      expect(request?.headers["traceparent"]).toBeUndefined()
      expect(JSON.parse(request?.body ?? "{}")).toMatchObject({ type: "order.créé 🎉" })
      expect(WebhookSender.headerValue("order.created")).toBe("order.created")
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("a request the HTTP client refuses to build → Rejected at once, naming the refusal", () =>
    Effect.gen(function*() {
      const receiver = yield* startReceiver(() => ({ status: 204 }))
      // A configured header value no HTTP request can carry: every message would be refused the same way.
      const result = yield* sendOne({ url: receiver.url, headers: { "x-tenant": "acme\r\nx-evil: 1" } })
      expect(result).toMatchObject({ _tag: "Rejected", error: expect.stringContaining("not retried") })
      expect(yield* receiver.received).toEqual([])
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("honours Retry-After in seconds and as an HTTP date, capped at maxRetryAfter", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const answers = ["30", new Date(now + 120_000).toUTCString(), "86400", "whenever"]
      const receiver = yield* startReceiver((_, count) => ({
        status: 503,
        headers: { "retry-after": answers[count - 1] ?? "" }
      }))
      const delays = []
      for (const _ of answers) {
        const result = yield* sendOne({ url: receiver.url, maxRetryAfter: "1 hour" })
        delays.push(result._tag === "Failed" ? result.retryAfter : "not failed")
      }
      expect(delays).toEqual([Duration.seconds(30), Duration.seconds(120), Duration.hours(1), undefined])
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("a receiver that does not answer within the timeout → Failed", () =>
    Effect.gen(function*() {
      const receiver = yield* startReceiver(() => "hang")
      const sending = yield* Effect.fork(sendOne({ url: receiver.url, timeout: "3 seconds" }))
      yield* receiver.arrived
      yield* TestClock.adjust("3 seconds")
      const result = yield* Fiber.join(sending)
      expect(result).toMatchObject({
        _tag: "Failed",
        error: `request to http://127.0.0.1:${receiver.port}/hooks timed out after 3s`
      })
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("an unreachable receiver → Failed with the network error", () =>
    Effect.gen(function*() {
      // Bind a port, then close it again: connecting to it is refused.
      const port = yield* Effect.scoped(startReceiver(() => ({ status: 200 })).pipe(
        Effect.map((receiver) => receiver.port),
        Effect.provide(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }))
      ))
      const result = yield* sendOne({ url: `http://127.0.0.1:${port}/hooks` })
      expect(result).toMatchObject({ _tag: "Failed", error: expect.stringContaining("ECONNREFUSED") })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("secrets never appear in results: signing secret, URL credentials and query, redacted headers", () =>
    Effect.gen(function*() {
      // The receiver echoes the request's path, query and headers back in its error body.
      const receiver = yield* startReceiver((request) => ({
        status: 400,
        body: JSON.stringify({
          tenant: request.headers["x-tenant"],
          url: request.url,
          token: new URL(request.url, "http://x").searchParams.get("token"),
          apiKey: request.headers["x-api-key"],
          signature: request.headers["webhook-signature"],
          // Long enough that the excerpt is cut inside it: no prefix of it may survive.
          authorization: request.headers["authorization"]?.padEnd(400, "=")
        })
      }))
      const url = receiver.url.replace("http://", "http://relay:hunter2-password@") + "?token=query-token-value"
      const apiKey = Redacted.make("header-secret-value")
      const rejected = yield* sendOne({ url, secret, headers: { "x-api-key": apiKey, "x-tenant": "acme" } })
      // The credentials reached the receiver as Basic auth, and the redacted header was sent.
      const [request] = yield* receiver.received
      expect(request?.headers["authorization"]).toBe(`Basic ${Buffer.from("relay:hunter2-password").toString("base64")}`)
      expect(request?.headers["x-api-key"]).toBe("header-secret-value")

      const refused = yield* sendOne({
        url: "http://relay:hunter2-password@127.0.0.1:1/hooks?token=query-token-value",
        secret
      })
      const errors = [rejected, refused].map((result) => ("error" in result ? result.error : ""))
      expect(rejected._tag).toBe("Rejected")
      expect(refused._tag).toBe("Failed")
      for (const error of errors) {
        expect(error).not.toBe("")
        for (const leaked of ["hunter2-password", "query-token-value", "header-secret-value", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]) {
          expect(error).not.toContain(leaked)
        }
        expect(error).not.toContain(Buffer.from("relay:hunter2-password").toString("base64").slice(0, 8))
      }
      expect(errors[0]).toContain("\"tenant\":\"acme\"") // the rest of the echo is kept, so the error stays useful
    }).pipe(Effect.provide(ReceiverLive)))

  it.scoped("a payload with no JSON text is rejected as Undecodable without a request", () =>
    Effect.gen(function*() {
      const receiver = yield* startReceiver(() => ({ status: 200 }))
      const result = yield* sendOne({ url: receiver.url }, message({ payload: { total: 10n } }))
      expect(result).toMatchObject({ _tag: "Rejected", reason: "Undecodable" })
      expect(yield* receiver.received).toEqual([])
    }).pipe(Effect.provide(ReceiverLive)))

  it.effect("unusable settings fail with one line naming the setting, not its value", () =>
    Effect.gen(function*() {
      const badUrl = yield* Effect.flip(WebhookSender.make({ url: "ftp://user:pw-secret@example.com/" }))
      expect(badUrl).toMatchObject({ _tag: "WebhookConfigError", setting: "url" })
      expect(badUrl.message).not.toContain("pw-secret")
      const badSecret = yield* Effect.flip(
        WebhookSender.make({ url: "https://example.com/", secret: Redacted.make("whsec_?? not base64") })
      )
      expect(badSecret).toMatchObject({ setting: "secret" })
      expect(badSecret.message).not.toContain("not base64")
      const badTimeout = yield* Effect.flip(WebhookSender.make({ url: "https://example.com/", timeout: 0 }))
      expect(badTimeout.setting).toBe("timeout")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  describe("with the relay", () => {
    const OrderCreated = Topic.make("order.created", Schema.Struct({ orderId: Schema.Number }))
    const policy = RetryPolicy.fixed({ delay: "1 second", maxAttempts: 5 })

    it.scoped("4xx → dead letter Rejected at once; 5xx → retried, then delivered", () =>
      Effect.gen(function*() {
        const receiver = yield* startReceiver((request) => {
          const { orderId } = JSON.parse(request.body).data
          const seen = Number(request.headers["outbox-attempt"])
          if (orderId === 1) return { status: 422 }
          return seen < 3 ? { status: 503 } : { status: 200 }
        })
        yield* Effect.gen(function*() {
          const rejected = yield* Outbox.publish(OrderCreated, { orderId: 1 })
          const retried = yield* Outbox.publish(OrderCreated, { orderId: 2 })
          const store = yield* OutboxStore.OutboxStore
          const first = yield* Relay.drainOnce({ retryPolicy: policy })
          expect(first).toMatchObject({ claimed: 2, sent: 0, retried: 1, deadLettered: 1 })
          const [letter] = yield* store.deadLetters.list({})
          expect(letter).toMatchObject({ id: rejected, reason: "Rejected" })
          expect(letter?.lastError).toContain("HTTP 422")
          for (let i = 0; i < 2; i++) {
            yield* TestClock.adjust("1 second")
            yield* Relay.drainOnce({ retryPolicy: policy })
          }
          expect(yield* store.unsettled([retried])).toEqual([])
          expect(yield* store.stats).toMatchObject({ pending: 0, inFlight: 0, dead: 1 })
        }).pipe(
          Effect.provide(Layer.mergeAll(Outbox.layer, WebhookSender.layer({ url: receiver.url, secret })).pipe(
            Layer.provideMerge(MemoryStore.layer)
          ))
        )
        const attempts = (yield* receiver.received).map((request) =>
          `order ${JSON.parse(request.body).data.orderId} attempt ${request.headers["outbox-attempt"]}`
        )
        // The first batch sends both orders concurrently: compare regardless of arrival order.
        expect([...attempts].sort()).toEqual(["order 1 attempt 1", "order 2 attempt 1", "order 2 attempt 2", "order 2 attempt 3"])
      }).pipe(Effect.provide(ReceiverLive)))
  })
})
