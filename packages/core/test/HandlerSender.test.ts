import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema } from "effect"
import { OrderCreated, publishOrders, testEnv } from "./fixtures.js"
import { HandlerSender, Outbox, OutboxStore, Relay, Topic } from "@effect-outbox/core"

const Unhandled = Topic.make("nobody.listens", Schema.Struct({}))

describe("HandlerSender", () => {
  it.effect("runs the topic's handler with the decoded payload; failures retry, unknown topics dead-letter", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<number>>([])
      const sender = HandlerSender.layer(
        HandlerSender.handler(OrderCreated, (order) =>
          order.n === 2
            ? Effect.fail(new Error("inventory service unavailable"))
            : Ref.update(seen, (all) => [...all, order.n]))
      )
      const run = Effect.gen(function*() {
        yield* publishOrders(3)
        yield* Outbox.publish(Unhandled, {})
        const summary = yield* Relay.drainOnce()
        expect(summary).toMatchObject({ claimed: 4, sent: 2, retried: 1, deadLettered: 1 })
        expect(yield* Ref.get(seen)).toEqual([1, 3])
        const store = yield* OutboxStore.OutboxStore
        const [letter] = yield* store.deadLetters.list({})
        expect(letter).toMatchObject({ topic: "nobody.listens", reason: "Rejected", lastError: `no handler for topic "nobody.listens"` })
      })
      yield* run.pipe(Effect.provide(Layer.merge(testEnv(), sender)))
    }))

  it.effect("a payload that does not decode is rejected as Undecodable; a defect is a retryable failure", () =>
    Effect.gen(function*() {
      const sender = yield* HandlerSender.make([
        HandlerSender.handler(OrderCreated, (order) => (order.n === 1 ? Effect.die(new Error("bug")) : Effect.void))
      ])
      const base = { topic: "order.created", key: null, headers: {}, attempts: 1, lostClaims: 0, createdAt: new Date(0), availableAt: new Date(0) }
      const results = yield* sender.send([
        { ...base, id: "1", payload: { n: 1 } },
        { ...base, id: "2", payload: { n: "two" } },
        { ...base, id: "3", payload: { n: 3 } }
      ])
      expect(results.map((r) => r._tag)).toEqual(["Failed", "Rejected", "Sent"])
      expect(results[0]).toMatchObject({ error: "bug" })
      expect(results[1]).toMatchObject({ reason: "Undecodable" })
    }))

  it.effect("two handlers for one topic are refused at layer build, naming the topic", () =>
    Effect.gen(function*() {
      const twice = HandlerSender.layer(
        HandlerSender.handler(OrderCreated, () => Effect.void),
        HandlerSender.handler(OrderCreated, () => Effect.void)
      )
      const error = yield* Layer.build(twice).pipe(Effect.scoped, Effect.flip)
      expect(error._tag).toBe("DuplicateHandler")
      expect(error.message).toBe(`Two handlers for topic "order.created": give one per topic (compose them inside it to run several)`)
    }))
})
