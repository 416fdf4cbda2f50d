/**
 * The metrics the outbox records, as Effect `Metric`s. Export them with any
 * Effect metrics exporter (the runner serves them as Prometheus text).
 * Per-topic counters carry a `topic` tag.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type { Stats } from "./OutboxStore.js"

/**
 * Messages appended by `Outbox.publish`/`publishAll`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const published = Metric.counter("outbox_published", {
  description: "Messages published into the outbox",
  incremental: true
})

/**
 * Messages a sender delivered (acked).
 *
 * @category metrics
 * @since 0.1.0
 */
export const sent = Metric.counter("outbox_sent", { description: "Messages delivered", incremental: true })

/**
 * Failed delivery attempts (transient failures, whole-batch failures and timeouts).
 *
 * @category metrics
 * @since 0.1.0
 */
export const failed = Metric.counter("outbox_failed", {
  description: "Failed delivery attempts",
  incremental: true
})

/**
 * Failed attempts scheduled for another try.
 *
 * @category metrics
 * @since 0.1.0
 */
export const retried = Metric.counter("outbox_retried", {
  description: "Messages scheduled for retry",
  incremental: true
})

/**
 * Messages moved to the dead letters.
 *
 * @category metrics
 * @since 0.1.0
 */
export const deadLettered = Metric.counter("outbox_dead_lettered", {
  description: "Messages dead-lettered",
  incremental: true
})

/**
 * Messages per claimed batch.
 *
 * @category metrics
 * @since 0.1.0
 */
export const batchSize = Metric.histogram(
  "outbox_batch_size",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 12 }),
  "Messages per claimed batch"
)

/**
 * Seconds a sender took for one batch.
 *
 * @category metrics
 * @since 0.1.0
 */
export const sendDuration = Metric.histogram(
  "outbox_send_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 }),
  "Seconds spent sending one batch"
)

/**
 * Seconds from publish to delivery (now − createdAt when sent).
 *
 * @category metrics
 * @since 0.1.0
 */
export const lag = Metric.histogram(
  "outbox_lag_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 22 }),
  "Seconds from publish to delivery"
)

/**
 * Messages pending in the store, as last observed.
 *
 * @category metrics
 * @since 0.1.0
 */
export const pending = Metric.gauge("outbox_pending", { description: "Messages pending in the outbox" })

/**
 * Messages under an unexpired lease, as last observed.
 *
 * @category metrics
 * @since 0.1.0
 */
export const inFlight = Metric.gauge("outbox_in_flight", { description: "Messages being delivered (leased)" })

/**
 * Dead letters kept in the store, as last observed.
 *
 * @category metrics
 * @since 0.1.0
 */
export const deadLetters = Metric.gauge("outbox_dead_letters", { description: "Dead letters kept in the store" })

/**
 * Keys that ordered delivery holds back behind a dead letter, as last observed: alert when above 0.
 *
 * @category metrics
 * @since 0.1.0
 */
export const parkedKeys = Metric.gauge("outbox_parked_keys", {
  description: "Keys held back in ordered delivery behind a dead letter (replay or purge it to resume the key)"
})

/**
 * Seconds the oldest pending message has waited (0 when none), as last observed: the backlog alert.
 *
 * @category metrics
 * @since 0.1.0
 */
export const oldestPendingAge = Metric.gauge("outbox_oldest_pending_age_seconds", {
  description: "Seconds the oldest pending message has waited"
})

/**
 * Sets the five store gauges above from the store's `stats`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const observeStats = (stats: Stats): Effect.Effect<void> =>
  Effect.all([
    Metric.set(pending, stats.pending),
    Metric.set(inFlight, stats.inFlight),
    Metric.set(deadLetters, stats.dead),
    Metric.set(parkedKeys, stats.parkedKeys),
    Metric.set(oldestPendingAge, (stats.oldestPendingAgeMillis ?? 0) / 1000)
  ], { discard: true })

// Tagging builds a new metric key each time: keep one per metric and topic (topics are few).
const tagged = new WeakMap<object, Map<string, unknown>>()

/**
 * Tags a per-topic counter with its topic.
 *
 * @category metrics
 * @since 0.1.0
 */
export const forTopic = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, topic: string): Metric.Metric<Type, In, Out> => {
  let byTopic = tagged.get(metric)
  if (byTopic === undefined) {
    byTopic = new Map()
    tagged.set(metric, byTopic)
  }
  const known = byTopic.get(topic)
  if (known !== undefined) return known as Metric.Metric<Type, In, Out> // stored under this very metric just below
  const made = Metric.tagged(metric, "topic", topic)
  byTopic.set(topic, made)
  return made
}
