import { MemoryStore, Outbox, OutboxMetrics, OutboxStore, Topic } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Metric, Schema, TestClock } from "effect"

// A schema whose encoded form differs from its type, so encoding is visible.
const Shipped = Topic.make(
  "order.shipped",
  Schema.Struct({ orderId: Schema.NonEmptyString, shippedAt: Schema.DateFromString })
)

const env = Layer.provideMerge(Outbox.layer, MemoryStore.layer)

const claimAll = Effect.flatMap(OutboxStore.OutboxStore, (store) =>
  store.claim({ batchSize: 100, leaseFor: Duration.seconds(30) }))

describe("Outbox", () => {
  it.effect("publish stores the payload encoded by the topic's schema, with key and headers", () =>
    Effect.gen(function*() {
      const id = yield* Outbox.publish(Shipped, { orderId: "o-1", shippedAt: new Date("2026-01-02T03:04:05.000Z") }, {
        key: "customer-1",
        headers: { "x-tenant": "acme" }
      })
      const [message] = (yield* claimAll).messages
      expect(message).toMatchObject({
        id,
        topic: "order.shipped",
        key: "customer-1",
        payload: { orderId: "o-1", shippedAt: "2026-01-02T03:04:05.000Z" }
      })
      expect(message?.headers["x-tenant"]).toBe("acme")
      if (message === undefined) return expect.unreachable("nothing was claimed")
      const decoded = yield* Topic.decode(Shipped, message)
      expect(decoded.shippedAt).toEqual(new Date("2026-01-02T03:04:05.000Z"))
    }).pipe(Effect.provide(env)))

  it.effect("a payload that does not encode fails with a clear error and writes nothing", () =>
    Effect.gen(function*() {
      const error = yield* Outbox.publish(Shipped, { orderId: "", shippedAt: new Date(0) }).pipe(Effect.flip)
      expect(error._tag).toBe("EncodeError")
      expect(error.message).toContain(`Cannot publish to topic "order.shipped"`)
      const store = yield* OutboxStore.OutboxStore
      expect((yield* store.stats).pending).toBe(0)
    }).pipe(Effect.provide(env)))

  it.effect("publishAll writes every message in order in one append", () =>
    Effect.gen(function*() {
      const ids = yield* Outbox.publishAll([
        { topic: Shipped, payload: { orderId: "a", shippedAt: new Date(0) } },
        { topic: Shipped, payload: { orderId: "b", shippedAt: new Date(0) }, options: { key: "k" } }
      ])
      const claimed = yield* claimAll
      expect(claimed.messages.map((m) => [m.id, (m.payload as { orderId: string }).orderId, m.key])).toEqual([
        [ids[0], "a", null],
        [ids[1], "b", "k"]
      ])
    }).pipe(Effect.provide(env)))

  it.effect("a delayed message is held back until its delay has passed", () =>
    Effect.gen(function*() {
      yield* Outbox.publish(Shipped, { orderId: "a", shippedAt: new Date(0) }, { delay: "1 minute" })
      expect((yield* claimAll).messages).toHaveLength(0)
      yield* TestClock.adjust("1 minute")
      expect((yield* claimAll).messages).toHaveLength(1)
    }).pipe(Effect.provide(env)))

  it.effect("inside a span, the span's trace context travels in the traceparent header", () =>
    Effect.gen(function*() {
      const span = yield* Effect.makeSpan("checkout")
      yield* Outbox.publish(Shipped, { orderId: "a", shippedAt: new Date(0) }).pipe(Effect.withParentSpan(span))
      const [message] = (yield* claimAll).messages
      const traceparent = message?.headers.traceparent ?? ""
      expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
      expect(traceparent.split("-")[1]).toBe(span.traceId)
    }).pipe(Effect.provide(env)))

  it.effect("publishing counts the published metric per topic", () =>
    Effect.gen(function*() {
      const counter = OutboxMetrics.forTopic(OutboxMetrics.published, "order.shipped")
      const before = (yield* Metric.value(counter)).count
      yield* Outbox.publish(Shipped, { orderId: "a", shippedAt: new Date(0) })
      yield* Outbox.publish(Shipped, { orderId: "b", shippedAt: new Date(0) })
      expect((yield* Metric.value(counter)).count - before).toBe(2)
    }).pipe(Effect.provide(env)))
})
