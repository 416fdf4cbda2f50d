/**
 * What a settled batch changed, recorded: metrics per topic, a log line per
 * retry and dead letter, and the dead-letter sink.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { DeadLetterSink } from "../DeadLetter.js"
import type { OutboxMessage } from "../Message.js"
import * as OutboxMetrics from "../OutboxMetrics.js"
import type { Completion } from "../OutboxStore.js"

/** Records metrics and logs for what a completion actually changed, and feeds the dead-letter sink. */
export const recordOutcome = Effect.fnUntraced(function*(
  batch: ReadonlyArray<OutboxMessage>,
  completions: ReadonlyArray<Completion>,
  completedIds: ReadonlySet<string>
) {
  const sink = yield* Effect.serviceOption(DeadLetterSink)
  const now = yield* Clock.currentTimeMillis
  const messages = new Map(batch.map((message) => [message.id, message]))
  const lags: Array<number> = []
  // Counted per topic first: one metric update per topic and kind, not per message.
  const counts = new Map<string, { sent: number; failed: number; retried: number; dead: number }>()
  const countFor = (topic: string) => {
    let count = counts.get(topic)
    if (count === undefined) {
      count = { sent: 0, failed: 0, retried: 0, dead: 0 }
      counts.set(topic, count)
    }
    return count
  }
  for (const completion of completions) {
    const message = messages.get(completion.id)
    if (message === undefined || !completedIds.has(completion.id)) continue
    const count = countFor(message.topic)
    switch (completion._tag) {
      case "Ack": {
        count.sent++
        lags.push((now - message.createdAt.getTime()) / 1000)
        break
      }
      case "Retry": {
        count.failed++
        count.retried++
        yield* Effect.logDebug("Delivery failed; will retry").pipe(
          Effect.annotateLogs({
            messageId: message.id,
            topic: message.topic,
            attempt: message.attempts,
            retryIn: Duration.format(completion.delay),
            error: completion.error
          })
        )
        break
      }
      case "DeadLetter": {
        if (completion.reason === "Exhausted") count.failed++
        count.dead++
        yield* Effect.logWarning("Message dead-lettered").pipe(
          Effect.annotateLogs({
            messageId: message.id,
            topic: message.topic,
            attempts: message.attempts,
            reason: completion.reason,
            error: completion.error
          })
        )
        if (Option.isSome(sink)) {
          yield* sink.value.onDeadLetter({
            ...message,
            reason: completion.reason,
            lastError: completion.error,
            deadAt: new Date(now),
            parksKey: completion.parkKey === true
          }).pipe(
            Effect.catchAllCause((cause) => Effect.logError("The dead-letter sink failed; the letter is kept", cause))
          )
        }
        break
      }
      case "Release":
        break
    }
  }
  // One effect for the batch's lags rather than one per message (the metric's labels are the fiber's).
  if (lags.length > 0) {
    yield* FiberRef.getWith(FiberRef.currentMetricLabels, (labels) =>
      Effect.sync(() => {
        for (const lag of lags) OutboxMetrics.lag.unsafeUpdate(lag, labels)
      }))
  }
  for (const [topic, count] of counts) {
    if (count.sent > 0) yield* Metric.incrementBy(OutboxMetrics.forTopic(OutboxMetrics.sent, topic), count.sent)
    if (count.failed > 0) yield* Metric.incrementBy(OutboxMetrics.forTopic(OutboxMetrics.failed, topic), count.failed)
    if (count.retried > 0) yield* Metric.incrementBy(OutboxMetrics.forTopic(OutboxMetrics.retried, topic), count.retried)
    if (count.dead > 0) yield* Metric.incrementBy(OutboxMetrics.forTopic(OutboxMetrics.deadLettered, topic), count.dead)
  }
})

