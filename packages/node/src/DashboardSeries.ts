/**
 * The dashboard's chart data: a per-second time series of the last 15
 * minutes, kept in memory by the runner. Every second a sampler reads the
 * relay's counters (`outbox_sent`, `outbox_failed`, `outbox_dead_lettered`,
 * by topic) and the age of the oldest pending message, and keeps what changed.
 * Nothing is written to the database; a restart starts an empty chart.
 *
 * @since 0.1.0
 */
import { OutboxInsight } from "@effect-outbox/sql"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"

/**
 * One second of the chart. Rates are messages in that second; `lagMillis` is the oldest pending age then.
 *
 * @category models
 * @since 0.1.0
 */
export interface Point {
  /** Clock milliseconds at the end of the second. */
  readonly at: number
  readonly delivered: number
  readonly failed: number
  readonly deadLettered: number
  readonly lagMillis: number | null
}

/**
 * The chart's data: oldest point first, and the topics seen (for a per-topic view).
 *
 * @category models
 * @since 0.1.0
 */
export interface Series {
  readonly stepSeconds: 1
  readonly points: ReadonlyArray<Point>
  readonly topics: ReadonlyArray<string>
}

type Counts = readonly [delivered: number, failed: number, deadLettered: number]

interface Sample {
  readonly at: number
  readonly lagMillis: number | null
  readonly byTopic: ReadonlyMap<string, Counts>
}

/**
 * How many seconds the series keeps: 15 minutes.
 *
 * @category constants
 * @since 0.1.0
 */
export const capacity = 900

/**
 * The series service: `read` all topics' sum, or one topic's.
 *
 * @category tags
 * @since 0.1.0
 */
export class DashboardSeries extends Context.Tag("@effect-outbox/node/DashboardSeries")<DashboardSeries, {
  readonly read: (topic?: string | undefined) => Effect.Effect<Series>
}>() {}

// The counters of `OutboxMetrics` (sent, failed, dead-lettered), by their registry names.
const counters = ["outbox_sent", "outbox_failed", "outbox_dead_lettered"]

/** The relay counters by topic, as the metric registry holds them now. */
const totalsByTopic: Effect.Effect<Map<string, Counts>> = Effect.map(Metric.snapshot, (pairs) => {
  const totals = new Map<string, [number, number, number]>()
  for (const pair of pairs) {
    const index = counters.indexOf(pair.metricKey.name)
    const topic = pair.metricKey.tags.find((tag) => tag.key === "topic")?.value
    if (index < 0 || topic === undefined || !MetricState.isCounterState(pair.metricState)) continue
    const entry = totals.get(topic) ?? [0, 0, 0]
    entry[index] = (entry[index] ?? 0) + Number(pair.metricState.count)
    totals.set(topic, entry)
  }
  return totals
})

const difference = (now: ReadonlyMap<string, Counts>, before: ReadonlyMap<string, Counts>) => {
  const changed = new Map<string, Counts>()
  for (const [topic, counts] of now) {
    const previous = before.get(topic) ?? [0, 0, 0]
    const delta: Counts = [counts[0] - previous[0], counts[1] - previous[1], counts[2] - previous[2]]
    if (delta.some((n) => n !== 0)) changed.set(topic, delta)
  }
  return changed
}

/**
 * Starts the sampler (a fiber in the layer's scope, once a second) and
 * provides the series. The lag reading is one index probe; if it fails the
 * point has no lag, and the sampler goes on.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<DashboardSeries, never, OutboxInsight.OutboxInsight> = Layer.scoped(
  DashboardSeries,
  Effect.gen(function*() {
    const insight = yield* OutboxInsight.OutboxInsight
    const samples = yield* Ref.make<ReadonlyArray<Sample>>([])
    const previous = yield* Ref.make(yield* totalsByTopic)
    const topics = yield* Ref.make<ReadonlySet<string>>(new Set())

    const sample = Effect.gen(function*() {
      const totals = yield* totalsByTopic
      const byTopic = difference(totals, yield* Ref.getAndSet(previous, totals))
      const lagMillis = yield* insight.oldestPendingAgeMillis.pipe(Effect.orElseSucceed(() => null))
      const at = yield* Clock.currentTimeMillis
      yield* Ref.update(topics, (known) => new Set([...known, ...totals.keys()]))
      yield* Ref.update(samples, (kept) => [...kept.slice(-(capacity - 1)), { at, lagMillis, byTopic }])
    })
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced("1 second")))

    return DashboardSeries.of({
      read: (topic) =>
        Effect.gen(function*() {
          const kept = yield* Ref.get(samples)
          const points = kept.map((entry): Point => {
            let delivered = 0
            let failed = 0
            let deadLettered = 0
            for (const [name, counts] of entry.byTopic) {
              if (topic !== undefined && name !== topic) continue
              delivered += counts[0]
              failed += counts[1]
              deadLettered += counts[2]
            }
            return { at: entry.at, delivered, failed, deadLettered, lagMillis: entry.lagMillis }
          })
          return { stepSeconds: 1, points, topics: [...(yield* Ref.get(topics))].sort() }
        })
    })
  })
)
