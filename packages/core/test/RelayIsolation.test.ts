import { OutboxStore, Relay, RetryPolicy, Sender } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, Schedule, TestClock } from "effect"
import { publishOrders, testEnv } from "./fixtures.js"

const lease = Duration.seconds(30)

/** Claims without ever settling, as a relay killed mid-batch would; the lease then expires. */
const crashWhileHolding = Effect.gen(function*() {
  const store = yield* OutboxStore.OutboxStore
  const claim = yield* store.claim({ batchSize: 10, leaseFor: lease })
  yield* TestClock.adjust(Duration.sum(lease, Duration.seconds(1)))
  return claim
})

describe("Relay isolation: one bad message never takes its batch or the relay with it", () => {
  it.effect("Sender.perMessage: a defect while sending one message fails that message only", () =>
    Effect.gen(function*() {
      const sender = yield* Sender.perMessage((message) =>
        Effect.sync(() => {
          if (message.id === "2") throw new TypeError("message.createdAt.toISOString is not a function")
          return Sender.SendResult.Sent({ id: message.id })
        })
      )
      const base = { topic: "t", key: null, payload: {}, headers: {}, attempts: 1, lostClaims: 0 }
      const dates = { createdAt: new Date(0), availableAt: new Date(0) }
      const results = yield* sender.send(["1", "2", "3"].map((id) => ({ ...base, ...dates, id })))
      expect(results.map((result) => result._tag)).toEqual(["Sent", "Failed", "Sent"])
      expect(results[1]).toMatchObject({ error: "the sender died: TypeError: message.createdAt.toISOString is not a function" })
    }))

  it.scoped("a defect escaping the sender fails the batch for retry; the relay survives and delivers it", () =>
    Effect.gen(function*() {
      const [id] = yield* publishOrders(1)
      let calls = 0
      const dying = Sender.Sender.of({
        send: (batch) =>
          ++calls === 1 ? Effect.die(new Error("bug in the sender")) : Effect.succeed(batch.map((m) => Sender.SendResult.Sent({ id: m.id })))
      })
      const relay = yield* Effect.forkScoped(
        Relay.run({ retryPolicy: RetryPolicy.fixed({ delay: "1 second" }) }).pipe(Effect.provideService(Sender.Sender, dying))
      )
      yield* TestClock.adjust("10 millis")
      expect(calls).toBe(1)
      yield* TestClock.adjust("2 seconds")
      expect(calls).toBe(2)
      const store = yield* OutboxStore.OutboxStore
      expect(yield* store.unsettled([String(id)])).toEqual([])
      expect(Option.isNone(yield* Fiber.poll(relay))).toBe(true)
    }).pipe(Effect.provide(testEnv())))

  it.scoped("a defect in a drain step (a retry policy that throws) does not end the relay: the batch is re-claimed after its lease", () =>
    Effect.gen(function*() {
      const [id] = yield* publishOrders(1)
      const throwing: RetryPolicy.RetryPolicy = Schedule.recurWhile(() => {
        throw new Error("bug in a retry policy")
      })
      const relay = yield* Effect.forkScoped(Relay.run({ retryPolicy: throwing, leaseFor: lease }))
      yield* TestClock.adjust("10 millis")
      expect(Option.isNone(yield* Fiber.poll(relay))).toBe(true)
      yield* TestClock.adjust("31 seconds")
      const handed = (yield* RecordingSender.attempts).map((a) => [a.message.id, a.outcome, a.message.lostClaims])
      expect(handed).toEqual([[id, "failed", 0], [id, "sent", 1]])
      expect(Option.isNone(yield* Fiber.poll(relay))).toBe(true)
    }).pipe(Effect.provide(testEnv(RecordingSender.failFirst(1)))))

  it.scoped("a message whose traceparent is not a string (appended through a cast) is dead-lettered Malformed; its mates go on", () =>
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      const headers = { traceparent: 123 } as unknown as Record<string, string> // what untyped code can do
      const [a, bad, b] = yield* store.append([
        { topic: "order.created", key: null, payload: { n: 1 }, headers: {} },
        { topic: "order.created", key: null, payload: { n: 2 }, headers },
        { topic: "order.created", key: null, payload: { n: 3 }, headers: {} }
      ])
      const summary = yield* Relay.drainOnce()
      expect(summary).toMatchObject({ claimed: 3, sent: 2, deadLettered: 1 })
      expect(yield* RecordingSender.sentIds).toEqual([a, b])
      const [letter] = yield* store.deadLetters.list({})
      expect(letter).toMatchObject({ id: bad, reason: "Malformed" })
      expect(letter?.lastError).toContain("headers.traceparent: Expected string, actual 123")
    }).pipe(Effect.provide(testEnv())))

  it.effect("claims lost to crashes do not spend the retry policy: a batch lost more times than maxAttempts is still delivered", () =>
    Effect.gen(function*() {
      const ids = yield* publishOrders(2)
      for (let crash = 0; crash < 5; crash++) yield* crashWhileHolding
      const summary = yield* Relay.drainOnce({ retryPolicy: RetryPolicy.fixed({ delay: "1 second", maxAttempts: 3 }) })
      expect(summary).toMatchObject({ sent: 2, deadLettered: 0 })
      const handed = (yield* RecordingSender.attempts).map((a) => [a.message.id, a.message.attempts, a.message.lostClaims])
      expect(handed).toEqual(ids.map((id) => [id, 1, 5]))
    }).pipe(Effect.provide(testEnv())))

  it.effect("a message that keeps crashing relays stops at maxLostClaims: dead-lettered Exhausted unsent, saying why", () =>
    Effect.gen(function*() {
      const [id] = yield* publishOrders(1)
      for (let crash = 0; crash < 3; crash++) yield* crashWhileHolding
      const summary = yield* Relay.drainOnce({ maxLostClaims: 3 })
      expect(summary).toMatchObject({ claimed: 1, sent: 0, deadLettered: 1 })
      expect(yield* RecordingSender.attempts).toEqual([])
      const [letter] = yield* Effect.flatMap(OutboxStore.OutboxStore, (store) => store.deadLetters.list({}))
      expect(letter).toMatchObject({ id, reason: "Exhausted", lostClaims: 3 })
      expect(letter?.lastError).toContain("its claim was lost 3 times")
    }).pipe(Effect.provide(testEnv())))
})

describe("Relay isolation under ordered delivery", () => {
  it.effect("a malformed head of an ordered key parks the key under `block`, like any dead-lettered head", () =>
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      const headers = { traceparent: 123 } as unknown as Record<string, string> // what untyped code can do
      const [bad, later, other] = yield* store.append([
        { topic: "order.created", key: "k", payload: { n: 1 }, headers },
        { topic: "order.created", key: "k", payload: { n: 2 }, headers: {} },
        { topic: "order.created", key: "j", payload: { n: 3 }, headers: {} }
      ])
      yield* Relay.drainOnce({ ordered: true })
      yield* Relay.drainOnce({ ordered: true })
      expect(yield* RecordingSender.sentIds).toEqual([other])
      expect(yield* store.deadLetters.list({})).toMatchObject([{ id: bad, reason: "Malformed", parksKey: true }])
      expect(yield* store.unsettled([String(later)])).toEqual([later])
    }).pipe(Effect.provide(testEnv())))
})
