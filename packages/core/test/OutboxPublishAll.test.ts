import { MemoryStore, Outbox, OutboxStore, Topic } from "@effect-outbox/core"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Schema } from "effect"

// Two topics whose encoded forms differ from their types, so each entry's own schema is visible.
const OrderPlaced = Topic.make("order.placed", Schema.Struct({ orderId: Schema.NonEmptyString, placedAt: Schema.DateFromString }))
const OrderPaid = Topic.make("order.paid", Schema.Struct({ orderId: Schema.String, amount: Schema.NumberFromString }))

// A topic whose schema needs a service to encode.
class Currency extends Context.Tag("test/Currency")<Currency, { readonly code: string }>() {}
const Priced = Topic.make(
  "order.priced",
  Schema.transformOrFail(Schema.String, Schema.Number, {
    decode: (text) => Effect.succeed(Number(text)),
    encode: (n) => Effect.map(Currency, (currency) => `${n} ${currency.code}`)
  })
)

const env = Layer.provideMerge(Outbox.layer, MemoryStore.layer)

describe("Outbox.publishAll with entries of different topics", () => {
  it.effect("writes them in one call, each encoded by its own topic's schema, ids in order", () =>
    Effect.gen(function*() {
      const ids = yield* Outbox.publishAll([
        { topic: OrderPlaced, payload: { orderId: "o-1", placedAt: new Date("2026-01-02T03:04:05.000Z") } },
        { topic: OrderPaid, payload: { orderId: "o-1", amount: 42 }, options: { key: "o-1" } },
        { topic: OrderPlaced, payload: { orderId: "o-2", placedAt: new Date("2026-01-03T00:00:00.000Z") } }
      ])
      expect(ids).toHaveLength(3)
      const store = yield* OutboxStore.OutboxStore
      const claimed = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30) })
      expect(claimed.messages.map((m) => [m.id, m.topic, m.key, m.payload])).toEqual([
        [ids[0], "order.placed", null, { orderId: "o-1", placedAt: "2026-01-02T03:04:05.000Z" }],
        [ids[1], "order.paid", "o-1", { orderId: "o-1", amount: "42" }],
        [ids[2], "order.placed", null, { orderId: "o-2", placedAt: "2026-01-03T00:00:00.000Z" }]
      ])
    }).pipe(Effect.provide(env)))

  it.effect("an entry that does not encode fails the whole call: nothing is written", () =>
    Effect.gen(function*() {
      const error = yield* Outbox.publishAll([
        { topic: OrderPaid, payload: { orderId: "o-1", amount: 1 } },
        { topic: OrderPlaced, payload: { orderId: "", placedAt: new Date(0) } }
      ]).pipe(Effect.flip)
      expect(error._tag).toBe("EncodeError")
      const store = yield* OutboxStore.OutboxStore
      expect((yield* store.stats).pending).toBe(0)
    }).pipe(Effect.provide(env)))

  it("type level: each payload is checked against its own topic; the context is the union of the schemas' needs", () => {
    const placed = { orderId: "o-1", placedAt: new Date(0) }
    const paid = { orderId: "o-1", amount: 42 }
    const mixed = Outbox.publishAll([{ topic: OrderPlaced, payload: placed }, { topic: OrderPaid, payload: paid }])
    expectTypeOf(mixed).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<string>, Outbox.PublishError, Outbox.Outbox>
    >()
    // A schema that needs a service makes the call need it too.
    const priced = Outbox.publishAll([{ topic: OrderPaid, payload: paid }, { topic: Priced, payload: 10 }])
    expectTypeOf(priced).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<string>, Outbox.PublishError, Currency | Outbox.Outbox>
    >()
    // An array built elsewhere, of a union of entries, is checked the same way.
    const entries: Array<Outbox.Publication<typeof placed, unknown, never>> = []
    expectTypeOf(Outbox.publishAll(entries)).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<string>, Outbox.PublishError, Outbox.Outbox>
    >()

    // @ts-expect-error the second entry carries the first topic's payload
    Outbox.publishAll([{ topic: OrderPlaced, payload: placed }, { topic: OrderPaid, payload: placed }])
    // @ts-expect-error a payload field of the wrong type
    Outbox.publishAll([{ topic: OrderPaid, payload: { orderId: "o-1", amount: "42" } }])
    // @ts-expect-error a payload missing a field
    Outbox.publishAll([{ topic: OrderPlaced, payload: { orderId: "o-1" } }])
    // @ts-expect-error not a topic
    Outbox.publishAll([{ topic: { name: "x" }, payload: {} }])
  })
})
