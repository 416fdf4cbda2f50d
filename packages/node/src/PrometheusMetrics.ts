/**
 * Effect metrics (core's `OutboxMetrics` and anything else the app records)
 * in the Prometheus text format, through the maintained OpenTelemetry
 * Prometheus exporter: `@effect/opentelemetry` produces the metrics, the
 * exporter's serializer writes them. The exporter's own server is not
 * started; the runner serves `/metrics` itself.
 *
 * Names follow the exporter's conventions: counters get `_total`
 * (`outbox_sent_total{topic="order.created"}`), histograms `_bucket`/`_sum`/
 * `_count`, and a `target_info` series carries the service name. On each
 * scrape the store's gauges (pending, in flight, dead letters, parked keys,
 * age of the oldest pending message) are refreshed first.
 *
 * @since 0.1.0
 */
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { OutboxMetrics, OutboxStore } from "@effect-outbox/core"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * The content type of the Prometheus text exposition format.
 *
 * @category constants
 * @since 0.1.0
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Collecting the metrics failed.
 *
 * @category errors
 * @since 0.1.0
 */
export class MetricsError extends Data.TaggedError("MetricsError")<{ readonly cause: unknown }> {
  override get message() {
    return `Collecting metrics failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/**
 * The metrics endpoint's service: the current metrics as Prometheus text.
 *
 * @category tags
 * @since 0.1.0
 */
export class PrometheusMetrics extends Context.Tag("@effect-outbox/node/PrometheusMetrics")<PrometheusMetrics, {
  readonly scrape: Effect.Effect<string, MetricsError>
}>() {}

/**
 * Exporter settings.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The `service_name` of the `target_info` series. Default `effect-outbox`. */
  readonly serviceName?: string | undefined
}

/**
 * Registers an exporter for the process's Effect metrics (one per process is
 * enough); it is shut down with the layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<PrometheusMetrics> =>
  Layer.scoped(
    PrometheusMetrics,
    Effect.gen(function*() {
      // Scope labels (otel_scope_name) are left out: every series would carry the same one.
      const exporter = yield* Effect.sync(() =>
        new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true })
      )
      const producer = yield* Metrics.makeProducer
      yield* Metrics.registerProducer(producer, () => exporter)
      const serializer = new PrometheusSerializer(undefined, false, undefined, false, true)
      return PrometheusMetrics.of({
        scrape: Effect.tryPromise({
          try: () => exporter.collect(),
          catch: (cause) => new MetricsError({ cause })
        }).pipe(
          Effect.tap(({ errors }) =>
            errors.length === 0 ? Effect.void : Effect.logWarning("Some metrics could not be collected", errors)
          ),
          Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
        )
      })
    })
  ).pipe(Layer.provide(Resource.layer({ serviceName: options.serviceName ?? "effect-outbox" })))

/**
 * The store gauges are defined in core's `OutboxMetrics`; these names stay for existing imports.
 *
 * @category metrics
 * @since 0.1.0
 */
export const { deadLetters, inFlight, oldestPendingAge, parkedKeys } = OutboxMetrics

/**
 * Sets the store gauges (core's `OutboxMetrics`: `outbox_pending`,
 * `outbox_in_flight`, `outbox_dead_letters`, `outbox_parked_keys`,
 * `outbox_oldest_pending_age_seconds`) from `stats`. An unreachable store leaves the last values and is logged once per
 * scrape: `/readyz` reports it.
 *
 * @category metrics
 * @since 0.1.0
 */
export const observeStore = (
  timeout: Duration.DurationInput = Duration.seconds(5)
): Effect.Effect<void, never, OutboxStore.OutboxStore> =>
  Effect.flatMap(OutboxStore.OutboxStore, (store) => store.stats).pipe(
    Effect.timeout(timeout),
    Effect.flatMap(OutboxMetrics.observeStats),
    Effect.catchAll((error) => Effect.logWarning("Could not refresh the store gauges for /metrics", error.message))
  )

/**
 * `GET /metrics`: refreshes the store gauges, then answers the metrics as Prometheus text (500 if collecting fails).
 *
 * @category http
 * @since 0.1.0
 */
export const router: HttpRouter.HttpRouter<never, PrometheusMetrics | OutboxStore.OutboxStore> = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/metrics",
    Effect.gen(function*() {
      yield* observeStore()
      const text = yield* (yield* PrometheusMetrics).scrape
      return HttpServerResponse.text(text, { contentType })
    }).pipe(
      Effect.catchTag("MetricsError", (error) =>
        Effect.as(
          Effect.logError("Serving /metrics failed", error),
          HttpServerResponse.text(`# ${error.message}\n`, { status: 500, contentType })
        ))
    )
  )
)
