import { HttpClient, HttpClientRequest, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { MemoryStore, Outbox, OutboxStore, Relay, RetryPolicy, Topic } from "@effect-outbox/core"
import { Drain, RecordingSender } from "@effect-outbox/core/testing"
import * as ManagementServer from "@effect-outbox/node/ManagementServer"
import * as PrometheusMetrics from "@effect-outbox/node/PrometheusMetrics"
import * as RelayProgress from "@effect-outbox/node/RelayProgress"
import * as WebhookSender from "@effect-outbox/webhook/WebhookSender"
import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted, Ref, Schema, TestClock } from "effect"
import { createServer } from "node:http"

const token = "s3cr3t-admin-token-value"

const Item = Schema.Struct({ n: Schema.Number })
const publish = (topic: string, count: number) =>
  Outbox.publishAll(Array.from({ length: count }, (_, n) => ({ topic: Topic.make(topic, Item), payload: { n } })))

const serverEnv = (
  options: Partial<ManagementServer.ListenOptions> = {},
  behaviour: RecordingSender.Behaviour = RecordingSender.alwaysSend
) =>
  ManagementServer.layer({
    port: 0,
    host: "127.0.0.1",
    adminToken: Redacted.make(token),
    readiness: { stallThreshold: "1 minute" },
    ...options
  }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Outbox.layer,
        RecordingSender.layer(behaviour),
        RelayProgress.layer,
        PrometheusMetrics.layer(),
        NodeHttpClient.layerUndici
      )
    ),
    Layer.provideMerge(MemoryStore.layer)
  )

/** Calls the running server; `bearer` adds `Authorization: Bearer <bearer>`. */
const call = (method: "GET" | "POST", path: string, bearer?: string) =>
  Effect.gen(function*() {
    const server = yield* ManagementServer.ManagementServer
    const request = HttpClientRequest.make(method)(`${server.url}${path}`)
    const response = yield* HttpClient.execute(
      bearer === undefined ? request : HttpClientRequest.bearerToken(request, bearer)
    )
    const text = yield* response.text
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) }
  })

const admin = (method: "GET" | "POST", path: string) => call(method, path, token)

/**
 * Parks key `o-1` the way an ordered relay under `block` does: its head is
 * dead-lettered with `parkKey`, so its second message waits. Key `o-2`'s head
 * is dead-lettered without parking. Returns the parking letter's id.
 */
const parkKey = Effect.gen(function*() {
  const store = yield* OutboxStore.OutboxStore
  const [o1Head] = yield* store.append(
    [["o-1", 1], ["o-1", 2], ["o-2", 3]].map(([key, n]) => ({ topic: "order.paid", key: String(key), payload: { n }, headers: {} }))
  )
  const claim = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30), ordered: "all" })
  expect(claim.messages.map((message) => message.key)).toEqual(["o-1", "o-2"])
  yield* store.complete(
    claim.token,
    claim.messages.map((message) =>
      OutboxStore.Completion.DeadLetter({
        id: message.id,
        reason: "Rejected",
        error: `422 for ${message.key}`,
        parkKey: message.id === o1Head
      })
    )
  )
  return o1Head ?? ""
})

// A sample line of the Prometheus text format: name, optional {labels}, value, optional timestamp.
const sampleLine =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)(?: -?\d+)?$/
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** A strict little parser of the Prometheus text exposition format: every line must be valid, every sample typed. */
const parsePrometheus = (text: string) => {
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  const errors: Array<string> = []
  for (const line of text.split("\n")) {
    if (line === "") continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type?.[1] !== undefined && type[2] !== undefined) {
      types.set(type[1], type[2])
      continue
    }
    if (line.startsWith("#")) continue // HELP and other comments
    const sample = sampleLine.exec(line)
    const value = sample?.[3] === undefined ? NaN : Number(sample[3].replace("Inf", "Infinity"))
    if (sample?.[1] === undefined || Number.isNaN(value)) {
      errors.push(`not a sample: ${line}`)
      continue
    }
    const name = sample[1]
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "")
    if (!types.has(family)) errors.push(`sample of an undeclared family: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, raw] of (sample[2] ?? "").matchAll(labelPair)) {
      if (key !== undefined && raw !== undefined) labels[key] = raw.replace(/\\(["\\n])/g, "$1")
    }
    samples.push({ name, labels, value })
  }
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((sample) =>
      sample.name === name && Object.entries(labels).every(([key, v]) => sample.labels[key] === v)
    )?.value
  return { types, samples, errors, value }
}

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

  describe("/metrics", () => {
    it.scoped("serves Prometheus text whose counters match what the relay did", () =>
      Effect.gen(function*() {
        yield* publish("metrics.delivered", 7)
        yield* publish("metrics.refused", 3)
        const summary = yield* Relay.drainOnce({ batchSize: 100 })
        expect(summary).toMatchObject({ claimed: 10, sent: 7, deadLettered: 3 })

        const response = yield* call("GET", "/metrics")
        expect(response.status).toBe(200)
        expect(response.headers["content-type"]).toBe(PrometheusMetrics.contentType)
        const metrics = parsePrometheus(response.text)
        expect(metrics.errors).toEqual([])

        expect(metrics.types.get("outbox_published_total")).toBe("counter")
        expect(metrics.value("outbox_published_total", { topic: "metrics.delivered" })).toBe(7)
        expect(metrics.value("outbox_published_total", { topic: "metrics.refused" })).toBe(3)
        expect(metrics.value("outbox_sent_total", { topic: "metrics.delivered" })).toBe(7)
        expect(metrics.value("outbox_sent_total", { topic: "metrics.refused" })).toBeUndefined()
        expect(metrics.value("outbox_dead_lettered_total", { topic: "metrics.refused" })).toBe(3)

        // Store gauges, refreshed by the scrape.
        expect(metrics.types.get("outbox_pending")).toBe("gauge")
        expect(metrics.value("outbox_pending")).toBe(0)
        expect(metrics.value("outbox_in_flight")).toBe(0)
        expect(metrics.value("outbox_dead_letters")).toBe(3)
        expect(metrics.types.get("outbox_parked_keys")).toBe("gauge")
        expect(metrics.value("outbox_parked_keys")).toBe(0)

        // Histograms: cumulative buckets ending in +Inf, equal to _count.
        expect(metrics.types.get("outbox_batch_size")).toBe("histogram")
        const buckets = metrics.samples.filter((sample) => sample.name === "outbox_batch_size_bucket")
        expect(buckets.at(-1)?.labels["le"]).toBe("+Inf")
        expect(buckets.at(-1)?.value).toBe(metrics.value("outbox_batch_size_count"))
        const counts = buckets.map((bucket) => bucket.value)
        expect(counts).toEqual([...counts].sort((a, b) => a - b))
        expect(metrics.value("outbox_batch_size_bucket", { le: "16" })).toBeGreaterThanOrEqual(1)
        expect(metrics.value("outbox_send_duration_seconds_count")).toBeGreaterThanOrEqual(1)
        expect(metrics.value("target_info", { service_name: "effect-outbox" })).toBe(1)
      }).pipe(Effect.provide(serverEnv({}, RecordingSender.rejectTopic("metrics.refused")))))
  })

  it.scoped("/metrics: outbox_parked_keys counts the keys parked behind a dead letter, and drops once it is replayed", () =>
    Effect.gen(function*() {
      const letter = yield* parkKey
      const scraped = yield* call("GET", "/metrics")
      const metrics = parsePrometheus(scraped.text)
      expect(metrics.errors).toEqual([])
      expect(metrics.types.get("outbox_parked_keys")).toBe("gauge")
      expect(scraped.text).toContain("# HELP outbox_parked_keys Keys held back in ordered delivery behind a dead letter")
      expect(metrics.value("outbox_parked_keys")).toBe(1)
      expect(metrics.value("outbox_dead_letters")).toBe(2)

      expect((yield* admin("POST", `/admin/dead-letters/replay?ids=${letter}`)).json()).toEqual({ replayed: 1 })
      expect(parsePrometheus((yield* call("GET", "/metrics")).text).value("outbox_parked_keys")).toBe(0)
    }).pipe(Effect.provide(serverEnv())))

  describe("admin API", () => {
    const deadLetters = Effect.gen(function*() {
      yield* publish("admin.refused", 3)
      yield* publish("admin.failing", 2)
      yield* Relay.drainOnce({ retryPolicy: RetryPolicy.fixed({ delay: "1 second", maxAttempts: 1 }) })
      const store = yield* OutboxStore.OutboxStore
      expect(yield* store.stats).toMatchObject({ pending: 0, dead: 5 })
    })
    const behaviour = RecordingSender.combine(
      RecordingSender.rejectTopic("admin.refused"),
      (message) => (message.topic === "admin.failing" ? "failed" : "sent")
    )

    it.scoped("401 without a token or with a wrong one, 200 with the right one", () =>
      Effect.gen(function*() {
        const missing = yield* call("GET", "/admin/stats")
        expect([missing.status, missing.json()]).toEqual([401, { error: "missing bearer token" }])
        expect(missing.headers["www-authenticate"]).toBe("Bearer realm=\"outbox-admin\"")
        const wrong = yield* call("GET", "/admin/stats", "not-the-token")
        expect([wrong.status, wrong.json()]).toEqual([401, { error: "invalid bearer token" }])
        const prefix = yield* call("GET", "/admin/stats", token.slice(0, -1))
        expect(prefix.status).toBe(401)
        const replay = yield* call("POST", "/admin/dead-letters/replay?all=true")
        expect(replay.status).toBe(401)

        const ok = yield* admin("GET", "/admin/stats")
        expect([ok.status, ok.json()]).toEqual([
          200,
          { pending: 0, inFlight: 0, dead: 0, oldestPendingAgeMillis: null, parkedKeys: 0 }
        ])
        for (const response of [missing, wrong, ok]) expect(response.text).not.toContain(token)
      }).pipe(Effect.provide(serverEnv())))

    it.scoped("is off (403) when no token is configured", () =>
      Effect.gen(function*() {
        for (const path of ["/admin/stats", "/admin/parked-keys"]) {
          const response = yield* call("GET", path, "anything")
          expect([path, response.status, response.json()]).toEqual([
            path,
            403,
            { error: "the admin API is off: no admin token is configured" }
          ])
        }
      }).pipe(Effect.provide(serverEnv({ adminToken: undefined }))))

    it.scoped("lists dead letters with filters", () =>
      Effect.gen(function*() {
        yield* deadLetters
        const all = (yield* admin("GET", "/admin/dead-letters")).json()
        expect(all.count).toBe(5)
        expect(all.limit).toBe(100)
        expect(all.deadLetters[0]).toMatchObject({
          topic: "admin.refused",
          reason: "Rejected",
          attempts: 1,
          lastError: "scripted rejection of admin.refused",
          payload: { n: 0 }
        })
        const byReason = (yield* admin("GET", "/admin/dead-letters?reason=Exhausted")).json()
        expect(byReason.deadLetters.map((letter: { topic: string }) => letter.topic)).toEqual([
          "admin.failing",
          "admin.failing"
        ])
        const ids = all.deadLetters.slice(0, 2).map((letter: { id: string }) => letter.id)
        const byIds = (yield* admin("GET", `/admin/dead-letters?ids=${ids.join(",")}`)).json()
        expect(byIds.deadLetters.map((letter: { id: string }) => letter.id)).toEqual(ids)
        expect((yield* admin("GET", "/admin/dead-letters?topic=admin.refused&limit=2")).json().count).toBe(2)

        yield* TestClock.adjust("10 minutes")
        expect((yield* admin("GET", "/admin/dead-letters?olderThan=15m")).json().count).toBe(0)
        expect((yield* admin("GET", "/admin/dead-letters?olderThan=300")).json().count).toBe(5)
      }).pipe(Effect.provide(serverEnv({}, behaviour))))

    it.scoped("replays and purges with filters and dry runs, returning counts", () =>
      Effect.gen(function*() {
        yield* deadLetters
        const store = yield* OutboxStore.OutboxStore

        const dryRun = yield* admin("POST", "/admin/dead-letters/replay?topic=admin.failing&dryRun=true")
        expect(dryRun.status).toBe(200)
        expect(dryRun.json()).toMatchObject({ dryRun: true, matched: 2 })
        expect(yield* store.stats).toMatchObject({ pending: 0, dead: 5 })

        const replayed = yield* admin("POST", "/admin/dead-letters/replay?topic=admin.failing")
        expect(replayed.json()).toEqual({ replayed: 2 })
        expect(yield* store.stats).toMatchObject({ pending: 2, dead: 3 })

        const everything = yield* admin("POST", "/admin/dead-letters/purge")
        expect(everything.status).toBe(400)
        expect(everything.json().error).toContain("all=true")
        expect(yield* store.stats).toMatchObject({ dead: 3 })

        expect((yield* admin("POST", "/admin/dead-letters/purge?reason=Rejected&dryRun=1")).json().matched).toBe(3)
        expect((yield* admin("POST", "/admin/dead-letters/purge?reason=Rejected")).json()).toEqual({ purged: 3 })
        expect(yield* store.stats).toMatchObject({ pending: 2, dead: 0 })
        expect((yield* admin("POST", "/admin/dead-letters/purge?all=true")).json()).toEqual({ purged: 0 })
      }).pipe(Effect.provide(serverEnv({}, behaviour))))

    it.scoped("lists parked keys, each with the dead letter that parks it; stats count them", () =>
      Effect.gen(function*() {
        const unauthorized = yield* call("GET", "/admin/parked-keys")
        expect([unauthorized.status, unauthorized.json()]).toEqual([401, { error: "missing bearer token" }])
        expect((yield* call("GET", "/admin/parked-keys", "not-the-token")).status).toBe(401)
        expect((yield* admin("GET", "/admin/parked-keys")).json()).toEqual({ count: 0, limit: 100, parkedKeys: [] })

        const letter = yield* parkKey
        const response = yield* admin("GET", "/admin/parked-keys")
        expect(response.status).toBe(200)
        expect(response.json()).toEqual({
          count: 1,
          limit: 100,
          parkedKeys: [{
            key: "o-1",
            messageId: letter,
            topic: "order.paid",
            reason: "Rejected",
            lastError: "422 for o-1",
            since: new Date(0).toISOString()
          }]
        })
        expect((yield* admin("GET", "/admin/stats")).json()).toMatchObject({ pending: 1, dead: 2, parkedKeys: 1 })
        const letters = (yield* admin("GET", "/admin/dead-letters")).json().deadLetters
        expect(letters.map((l: { key: string; parksKey: boolean }) => [l.key, l.parksKey])).toEqual([
          ["o-1", true],
          ["o-2", false]
        ])

        // Purging the parking letter resumes the key: nothing is parked any more.
        expect((yield* admin("POST", `/admin/dead-letters/purge?ids=${letter}`)).json()).toEqual({ purged: 1 })
        expect((yield* admin("GET", "/admin/parked-keys?limit=5")).json()).toEqual({ count: 0, limit: 5, parkedKeys: [] })
        expect((yield* admin("GET", "/admin/stats")).json()).toMatchObject({ parkedKeys: 0 })
      }).pipe(Effect.provide(serverEnv())))

    it.scoped("parked keys: at most limit, oldest first", () =>
      Effect.gen(function*() {
        const store = yield* OutboxStore.OutboxStore
        yield* store.append(["k-1", "k-2", "k-3"].map((key) => ({ topic: "t", key, payload: {}, headers: {} })))
        const claim = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30), ordered: "all" })
        yield* store.complete(
          claim.token,
          claim.messages.map((message) =>
            OutboxStore.Completion.DeadLetter({ id: message.id, reason: "Exhausted", error: "503", parkKey: true })
          )
        )
        const limited = (yield* admin("GET", "/admin/parked-keys?limit=2")).json()
        expect([limited.count, limited.limit, limited.parkedKeys.map((p: { key: string }) => p.key)]).toEqual([
          2,
          2,
          ["k-1", "k-2"]
        ])
      }).pipe(Effect.provide(serverEnv())))

    it.scoped("bad query parameters → 400 naming the parameter", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [string, string]> = [
          ["GET /admin/dead-letters?limit=abc", "Invalid query parameter \"limit\": expected a whole number of at least 1"],
          ["GET /admin/dead-letters?limit=0", "Invalid query parameter \"limit\": expected a whole number of at least 1"],
          ["GET /admin/dead-letters?reason=Nope", "Invalid query parameter \"reason\": expected one of Exhausted, Rejected, Undecodable, Malformed"],
          ["GET /admin/dead-letters?olderThan=soon", "Invalid query parameter \"olderThan\": expected a duration like 90 (seconds), 15m, 2h or 7d"],
          ["GET /admin/dead-letters?ids=1,,2", "Invalid query parameter \"ids\": expected comma-separated message ids"],
          ["GET /admin/dead-letters?topic=a&topic=b", "Invalid query parameter \"topic\": given more than once; give it once"],
          ["GET /admin/dead-letters?dryRun=true", "Invalid query parameter \"dryRun\": not a known parameter; expected one of topic, reason, ids, olderThan, limit"],
          ["POST /admin/dead-letters/purge?topc=orders", "Invalid query parameter \"topc\": not a known parameter; expected one of topic, reason, ids, olderThan, limit, dryRun, all"],
          ["POST /admin/dead-letters/replay?topic=x&dryRun=maybe", "Invalid query parameter \"dryRun\": expected true or false"],
          ["GET /admin/parked-keys?limit=abc", "Invalid query parameter \"limit\": expected a whole number of at least 1"],
          ["GET /admin/parked-keys?limit=0", "Invalid query parameter \"limit\": expected a whole number of at least 1"],
          ["GET /admin/parked-keys?limit=1&limit=2", "Invalid query parameter \"limit\": given more than once; give it once"],
          ["GET /admin/parked-keys?topic=orders", "Invalid query parameter \"topic\": not a known parameter; expected one of limit"]
        ]
        for (const [request, error] of cases) {
          const [method, path] = request.split(" ") as ["GET" | "POST", string]
          const response = yield* admin(method, path)
          expect([request, response.status, response.json()]).toEqual([request, 400, { error }])
        }
      }).pipe(Effect.provide(serverEnv())))
  })

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
