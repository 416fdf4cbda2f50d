import * as PrometheusMetrics from "@effect-outbox/node/PrometheusMetrics"
import { Relay } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { admin, call, parkKey, publish, serverEnv } from "./managementServer.js"
import { parsePrometheus } from "./prometheusText.js"

// /metrics as the management server serves it.
describe("PrometheusMetrics", () => {
  it.scoped("/metrics: serves Prometheus text whose counters match what the relay did", () =>
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
})
