/**
 * Tracing for the hot path: the W3C `traceparent` a publish records and the
 * send span links back to, and spans that cost nothing when no tracer is
 * installed (Effect's default tracer keeps no span anyone can see, yet
 * building one per claim, send and completion was a measurable share of a
 * small batch's time).
 */
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { OutboxMessage } from "../Message.js"
import * as MessageHeaders from "../MessageHeaders.js"

// A header that is not a W3C traceparent is no link (and never a reason to fail).
const traceparentFormat = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** A span as a W3C traceparent header value. */
export const formatTraceparent = (span: Tracer.AnySpan): string =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** The current span as a traceparent, when there is one. */
export const currentTraceparent: Effect.Effect<Option.Option<string>> = Effect.currentSpan.pipe(
  Effect.map(formatTraceparent),
  Effect.option
)

/**
 * Links for the send span to each publisher's span: delivery may come hours
 * later, so the publisher is a link, not a parent.
 */
export const publisherLinks = (batch: ReadonlyArray<OutboxMessage>): Array<Tracer.SpanLink> =>
  batch.flatMap((message) => {
    const header: unknown = message.headers[MessageHeaders.traceparent]
    const match = typeof header === "string" ? traceparentFormat.exec(header) : null
    const [, traceId, spanId, flags] = match ?? []
    if (traceId === undefined || spanId === undefined) return []
    return [{
      _tag: "SpanLink" as const,
      span: Tracer.externalSpan({ traceId, spanId, sampled: flags === "01" }),
      attributes: { "outbox.message_id": message.id }
    }]
  })

// Effect's built-in tracer: spans it makes are seen by nobody.
let defaultTracer: Tracer.Tracer | undefined
const isDefault = (tracer: Tracer.Tracer) => {
  defaultTracer ??= Effect.runSync(Effect.tracer)
  return tracer === defaultTracer
}

/**
 * `Effect.withSpan` when a tracer is installed (an OpenTelemetry layer, a test
 * tracer); the effect alone under the default tracer. The options are built
 * only when the span is (links read every message's headers).
 */
export const traced = (name: string, options: () => Tracer.SpanOptions) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.tracerWith((tracer) =>
    isDefault(tracer) ? effect : Effect.withSpan(effect, name, { ...options(), captureStackTrace: false })
  )
