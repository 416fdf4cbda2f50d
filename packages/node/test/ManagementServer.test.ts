import { HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { MemoryStore, Outbox } from "@effect-outbox/core"
import { Drain } from "@effect-outbox/core/testing"
import * as ManagementServer from "@effect-outbox/node/ManagementServer"
import * as PrometheusMetrics from "@effect-outbox/node/PrometheusMetrics"
import * as RelayProgress from "@effect-outbox/node/RelayProgress"
import * as WebhookSender from "@effect-outbox/webhook/WebhookSender"
import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Ref, TestClock } from "effect"
import { createServer } from "node:http"
import { call, publish, serverEnv } from "./managementServer.js"
import { parsePrometheus } from "./prometheusText.js"

// The server itself: health and readiness, and wired as the runner wires it.
// Its /metrics and admin API are tested in PrometheusMetrics.test.ts and AdminApi.test.ts.
describe("ManagementServer", () => {
  it.scoped("binds an ephemeral port and answers /healthz; unknown paths get a JSON 404", () =>
    Effect.gen(function*() {
      const server = yield* ManagementServer.ManagementServer
      expect(server.address).toMatchObject({ _tag: "TcpAddress", hostname: "127.0.0.1" })
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const health = yield* call("GET", "/healthz")
      expect([health.status, health.json()]).toEqual([200, { status: "ok" }])
      const missing = yield* call("GET", "/nope")
      expect([missing.status, missing.json()]).toEqual([404, { error: "not found" }])
    }).pipe(Effect.provide(serverEnv())))

  it.scoped("/readyz: 200 while the relay progresses, 503 with the reason once it stalls", () =>
    Effect.gen(function*() {
      const progress = yield* RelayProgress.RelayProgress
      const notStarted = yield* call("GET", "/readyz")
      expect(notStarted.status).toBe(503)
      expect(notStarted.json().checks.relay).toEqual({ ok: false, state: "not started", detail: "the relay has not started" })

      yield* progress.markRunning
      yield* publish("ready.pending", 4)
      const ready = yield* call("GET", "/readyz")
      expect(ready.status).toBe(200)
      expect(ready.json()).toMatchObject({ ready: true, checks: { store: { ok: true, stats: { pending: 4 } } } })

      yield* TestClock.adjust("2 minutes")
      const stalled = yield* call("GET", "/readyz")
      expect(stalled.status).toBe(503)
      expect(stalled.json()).toMatchObject({
        ready: false,
        checks: {
          store: { ok: true },
          relay: { ok: true, state: "running" },
          leadership: { ok: true, leader: true },
          progress: {
            ok: false,
            detail: "stalled: 4 messages pending (the oldest for 120 s) and nothing settled for 120 s",
            stallThresholdSeconds: 60
          }
        }
      })

      yield* progress.record({ claimed: 4, sent: 4, retried: 0, deadLettered: 0, fenced: 0 })
      expect((yield* call("GET", "/readyz")).status).toBe(200)
    }).pipe(Effect.provide(serverEnv())))

  describe("wired like the runner", () => {
    const secret = Redacted.make("whsec_c2VjcmV0LW9mLXRoZS13aXJlZC10ZXN0")

    /** A receiver that accepts only verified deliveries and records their ids. */
    const receiver = Effect.gen(function*() {
      const verified = yield* Ref.make<ReadonlyArray<string>>([])
      yield* HttpServer.serveEffect(Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const body = yield* request.text
        return yield* WebhookSignature.verify(secret, request.headers, body).pipe(
          Effect.flatMap(({ id }) => Ref.update(verified, (ids) => [...ids, id])),
          Effect.as(HttpServerResponse.empty({ status: 204 })),
          Effect.orElseSucceed(() => HttpServerResponse.empty({ status: 401 }))
        )
      }))
      const { address } = yield* HttpServer.HttpServer
      return {
        url: `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}/hooks`,
        verified: Ref.get(verified)
      }
    })

    it.scopedLive("a tracked relay delivering signed webhooks: /readyz ready, /metrics counts every delivery", () =>
      Effect.gen(function*() {
        const target = yield* receiver
        const SenderLive = WebhookSender.layer({ url: target.url, secret, timeout: "5 seconds" })
        yield* Effect.gen(function*() {
          const ids = yield* publish("wired.order", 25)
          yield* Drain.untilSettled(ids, { clock: "live", timeout: "20 seconds" })
          expect([...(yield* target.verified)].sort()).toEqual([...ids].sort())

          const ready = yield* call("GET", "/readyz")
          expect(ready.status).toBe(200)
          expect(ready.json().checks.relay.state).toBe("running")
          const metrics = parsePrometheus((yield* call("GET", "/metrics")).text)
          expect(metrics.errors).toEqual([])
          expect(metrics.value("outbox_sent_total", { topic: "wired.order" })).toBe(25)
          const progress = yield* (yield* RelayProgress.RelayProgress).snapshot
          expect(progress.totals.sent).toBe(25)
        }).pipe(
          Effect.provide(
            Layer.mergeAll(
              RelayProgress.layerRelay({ batchSize: 10, pollInterval: "50 millis" }),
              ManagementServer.layer({ port: 0, host: "127.0.0.1" }).pipe(Layer.provide(PrometheusMetrics.layer())),
              Outbox.layer,
              NodeHttpClient.layerUndici
            ).pipe(
              Layer.provideMerge(RelayProgress.layer),
              Layer.provide(SenderLive),
              Layer.provide(NodeHttpClient.layerUndici),
              Layer.provideMerge(MemoryStore.layer)
            )
          )
        )
      }).pipe(Effect.provide(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }))))
  })
})
