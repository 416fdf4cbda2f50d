import { MemoryStore, Outbox, OutboxStore, Relay, RetryPolicy } from "@effect-outbox/core"
import { Drain, RecordingSender } from "@effect-outbox/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, HashMap, Layer, Logger, Option, Ref, Stream, TestClock } from "effect"
import { attemptTimes, OrderCreated, testEnv } from "./fixtures.js"

// A minute's poll: anything attempted sooner was woken by its due time, not the poll.
const slowPoll: Relay.Options = { pollInterval: "1 minute", retryPolicy: RetryPolicy.fixed({ delay: "1 second", maxAttempts: 5 }) }

const settle = (ids: ReadonlyArray<string>) => Drain.untilSettled(ids, { clock: "test", step: "250 millis", timeout: "5 seconds" })

describe("Relay: due messages go out when due, whatever pollInterval is", () => {
  it.scoped("a retry is attempted when it comes due, not at the next poll", () =>
    Effect.gen(function*() {
      yield* Effect.forkScoped(Relay.run(slowPoll))
      const id = yield* Outbox.publish(OrderCreated, { n: 1 })
      yield* settle([id])
      expect(yield* attemptTimes(id)).toEqual([0, 1_000])
    }).pipe(Effect.provide(testEnv(RecordingSender.failFirst(1)))))

  it.scoped("a delayed message is attempted when its delay is over", () =>
    Effect.gen(function*() {
      yield* Effect.forkScoped(Relay.run(slowPoll))
      yield* TestClock.adjust("10 seconds") // idle, in the middle of a one-minute wait
      const id = yield* Outbox.publish(OrderCreated, { n: 1 }, { delay: "1 second" })
      yield* settle([id])
      expect(yield* attemptTimes(id)).toEqual([11_000])
    }).pipe(Effect.provide(testEnv())))

  it.scoped("a retry written by another relay (a one-shot drain) is attempted when due by the running relay", () =>
    Effect.gen(function*() {
      yield* Effect.forkScoped(Relay.run(slowPoll))
      yield* TestClock.adjust("10 seconds")
      const id = yield* Outbox.publish(OrderCreated, { n: 1 })
      // Another process's `drain --once` gets there first and writes the retry.
      yield* Relay.drainOnce({ retryPolicy: RetryPolicy.fixed({ delay: "2 seconds", maxAttempts: 5 }) })
      yield* settle([id])
      expect(yield* attemptTimes(id)).toEqual([10_000, 12_000])
    }).pipe(Effect.provide(testEnv(RecordingSender.failFirst(1)))))

  it.scoped("two relays: a retry the other wrote and a delayed message are each attempted once, when due", () =>
    Effect.gen(function*() {
      yield* Effect.forkScoped(Relay.run(slowPoll))
      yield* Effect.forkScoped(Relay.run(slowPoll))
      yield* TestClock.adjust("5 seconds")
      const retried = yield* Outbox.publish(OrderCreated, { n: 1 })
      const delayed = yield* Outbox.publish(OrderCreated, { n: 2 }, { delay: "2500 millis" })
      yield* settle([retried, delayed])
      expect(yield* attemptTimes(retried)).toEqual([5_000, 6_000])
      expect(yield* attemptTimes(delayed)).toEqual([7_500])
    }).pipe(Effect.provide(testEnv(RecordingSender.failFirst(1, (message) => message.id === "1")))))

  it.scoped("an idle relay with nothing due only claims at its polls (no busy loop)", () =>
    Effect.gen(function*() {
      const claims = yield* Ref.make(0)
      const real = yield* OutboxStore.OutboxStore
      const counting = OutboxStore.OutboxStore.of({
        ...real,
        claim: (options) => Effect.zipRight(Ref.update(claims, (n) => n + 1), real.claim(options))
      })
      yield* Effect.forkScoped(Relay.run(slowPoll).pipe(Effect.provideService(OutboxStore.OutboxStore, counting)))
      for (let minute = 0; minute < 10; minute++) yield* TestClock.adjust("1 minute")
      // The first claim at start, one on the wake-up the store sends once the relay listens, then one per poll.
      expect(yield* Ref.get(claims)).toBe(12)
    }).pipe(Effect.provide(Layer.mergeAll(MemoryStore.layer, RecordingSender.layer()))))

  it.effect("the memory store reports when the next message comes due", () =>
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      expect(Option.isNone(yield* store.nextDue)).toBe(true)
      yield* Outbox.publish(OrderCreated, { n: 1 })
      yield* Outbox.publish(OrderCreated, { n: 2 }, { delay: "3 seconds" })
      yield* Outbox.publish(OrderCreated, { n: 3 }, { delay: "2 seconds" })
      expect(Option.map(yield* store.nextDue, Duration.toMillis)).toEqual(Option.some(2_000))
    }).pipe(Effect.provide(testEnv())))

  it.scoped("the start log says which wake-ups the relay has and which topics it checks", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const collect = Logger.make(({ annotations, message }) => {
        lines.push(`${String(message)} ${JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations)))}`)
      })
      yield* Effect.forkScoped(Relay.run({ ...slowPoll, topics: [OrderCreated] }).pipe(Effect.provide(Logger.add(collect))))
      yield* TestClock.adjust("1 millis")
      const started = lines.find((line) => line.startsWith("Relay started"))
      expect(started).toContain(`"wakeups":"in-process; due times; polling every 1m"`)
      expect(started).toContain(`"checkedTopics":"order.created"`)
    }).pipe(Effect.provide(testEnv())))

  it.scoped("a store without wake-ups is called out at start: it only polls", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const collect = Logger.make(({ message }) => {
        lines.push(String(message))
      })
      const store = yield* OutboxStore.OutboxStore
      const silent = OutboxStore.OutboxStore.of({ ...store, wakeups: Stream.never, wakeupsFrom: undefined })
      yield* Effect.forkScoped(
        Relay.run(slowPoll).pipe(Effect.provideService(OutboxStore.OutboxStore, silent), Effect.provide(Logger.add(collect)))
      )
      yield* TestClock.adjust("1 millis")
      expect(lines.some((line) => line.startsWith("The outbox store has no wake-ups") && line.includes("1m"))).toBe(true)
    }).pipe(Effect.provide(testEnv())))
})
