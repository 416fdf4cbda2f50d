import { DeadLetter, Leadership, OutboxStore, Relay, RetryPolicy, Sender } from "@effect-outbox/core"
import { Drain, RecordingSender } from "@effect-outbox/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Ref, TestClock } from "effect"
import { attemptTimes, OrderCreated, publishOrders, testEnv } from "./fixtures.js"

const fixed1s = RetryPolicy.fixed({ delay: "1 second", maxAttempts: 3 })

describe("Relay", () => {
  it.scoped("delivers every published message once", () =>
    Effect.gen(function*() {
      const ids = yield* publishOrders(25)
      yield* Effect.forkScoped(Relay.run({ batchSize: 10 }))
      yield* Drain.untilDrained({ clock: "test" })
      expect(yield* RecordingSender.sentIds).toEqual(ids)
      expect(yield* RecordingSender.duplicates).toBe(0)
    }).pipe(Effect.provide(testEnv())))

  it.effect("retries a transient failure and then delivers", () =>
    Effect.gen(function*() {
      const [id] = yield* publishOrders(1)
      const summaries = []
      for (let i = 0; i < 3; i++) {
        summaries.push(yield* Relay.drainOnce({ retryPolicy: fixed1s }))
        yield* TestClock.adjust("1 second")
      }
      expect(summaries.map((s) => [s.sent, s.retried])).toEqual([[0, 1], [0, 1], [1, 0]])
      expect(yield* RecordingSender.sentIds).toEqual([id])
    }).pipe(Effect.provide(testEnv(RecordingSender.failFirst(2)))))

  it.effect("the n-th retry waits exactly what the policy says", () =>
    Effect.gen(function*() {
      const [id] = yield* publishOrders(1)
      const policy = RetryPolicy.exponential({ base: "1 second", maxAttempts: 10 })
      // Expected waits: 1 s, 2 s, 4 s (base * 2^(n-1)); nothing may be sent a millisecond early.
      for (const wait of [1_000, 2_000, 4_000]) {
        expect((yield* Relay.drainOnce({ retryPolicy: policy })).claimed).toBe(1)
        yield* TestClock.adjust(wait - 1)
        expect((yield* Relay.drainOnce({ retryPolicy: policy })).claimed).toBe(0)
        yield* TestClock.adjust(1)
      }
      expect((yield* Relay.drainOnce({ retryPolicy: policy })).sent).toBe(1)
      expect(yield* attemptTimes(String(id))).toEqual([0, 1_000, 3_000, 7_000])
    }).pipe(Effect.provide(testEnv(RecordingSender.failFirst(3)))))

  it.effect("a rejected message is dead-lettered at once with reason Rejected", () =>
    Effect.gen(function*() {
      const [id] = yield* publishOrders(1)
      const summary = yield* Relay.drainOnce()
      expect(summary.deadLettered).toBe(1)
      const store = yield* OutboxStore.OutboxStore
      const [letter] = yield* store.deadLetters.list({})
      expect(letter).toMatchObject({ id, reason: "Rejected", attempts: 1, lastError: "scripted rejection of order.created" })
      expect(yield* store.stats).toMatchObject({ pending: 0, inFlight: 0, dead: 1 })
    }).pipe(Effect.provide(testEnv(RecordingSender.rejectTopic("order.created")))))

  it.effect("when the schedule ends the message is dead-lettered Exhausted with its attempts and last error", () =>
    Effect.gen(function*() {
      const [id] = yield* publishOrders(1)
      for (let i = 0; i < 3; i++) {
        yield* Relay.drainOnce({ retryPolicy: fixed1s })
        yield* TestClock.adjust("1 second")
      }
      const store = yield* OutboxStore.OutboxStore
      const [letter] = yield* store.deadLetters.list({})
      expect(letter).toMatchObject({ id, reason: "Exhausted", attempts: 3, lastError: "scripted failure (hand-over 3)" })
      expect((yield* RecordingSender.attempts).length).toBe(3)
    }).pipe(Effect.provide(testEnv(RecordingSender.failFirst(100)))))

  it.effect("a send that exceeds sendTimeout fails the batch, which is retried", () =>
    Effect.gen(function*() {
      const [id] = yield* publishOrders(1)
      const first = yield* Effect.fork(Relay.drainOnce({ sendTimeout: "5 seconds", retryPolicy: fixed1s }))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(first)).toMatchObject({ claimed: 1, sent: 0, retried: 1 })
      yield* TestClock.adjust("1 second")
      expect((yield* Relay.drainOnce({ sendTimeout: "5 seconds" })).sent).toBe(1)
      expect(yield* RecordingSender.sentIds).toEqual([id])
    }).pipe(Effect.provide(testEnv((_, handed) => (handed === 1 ? "hang" : "sent"))))
  )

  it.effect("a whole-batch send failure retries every message of the batch", () =>
    Effect.gen(function*() {
      yield* publishOrders(3)
      expect(yield* Relay.drainOnce({ retryPolicy: fixed1s })).toMatchObject({ claimed: 3, retried: 3 })
      yield* RecordingSender.setBehaviour(RecordingSender.alwaysSend)
      yield* TestClock.adjust("1 second")
      expect((yield* Relay.drainOnce()).sent).toBe(3)
    }).pipe(Effect.provide(testEnv(() => "failBatch"))))

  it.effect("a payload that does not decode with its topic's schema is dead-lettered Undecodable, never sent", () =>
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      const [bad] = yield* store.append([{ topic: OrderCreated.name, key: null, payload: { n: "seven" }, headers: {} }])
      const [good] = yield* publishOrders(1)
      yield* Relay.drainOnce({ topics: [OrderCreated] })
      const [letter] = yield* store.deadLetters.list({})
      expect(letter?.id).toBe(bad)
      expect(letter?.reason).toBe("Undecodable")
      expect(letter?.lastError).toContain("Expected number")
      expect(yield* RecordingSender.sentIds).toEqual([good])
    }).pipe(Effect.provide(testEnv())))

  it.effect("Retry-After from the receiver is a floor on the retry delay", () =>
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      yield* publishOrders(1)
      const policy = RetryPolicy.fixed({ delay: "1 second" })
      yield* Relay.drainOnce({ retryPolicy: policy }).pipe(
        Effect.provideService(Sender.Sender, {
          send: (batch) =>
            Effect.succeed(batch.map((m) => Sender.SendResult.Failed({ id: m.id, error: "429", retryAfter: Duration.seconds(30) })))
        })
      )
      yield* TestClock.adjust("29 seconds")
      expect((yield* store.claim({ batchSize: 1, leaseFor: Duration.seconds(1) })).messages).toHaveLength(0)
      yield* TestClock.adjust("1 second")
      expect((yield* store.claim({ batchSize: 1, leaseFor: Duration.seconds(1) })).messages).toHaveLength(1)
    }).pipe(Effect.provide(testEnv())))

  it.effect("the dead-letter sink is told of every dead letter", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<DeadLetter.DeadLetter>>([])
      const [id] = yield* publishOrders(1)
      yield* Relay.drainOnce().pipe(
        Effect.provideService(DeadLetter.DeadLetterSink, {
          onDeadLetter: (letter) => Ref.update(seen, (all) => [...all, letter])
        })
      )
      expect((yield* Ref.get(seen)).map((l) => [l.id, l.reason])).toEqual([[id, "Rejected"]])
    }).pipe(Effect.provide(testEnv(RecordingSender.rejectTopic("order.created")))))

  it.scoped("a full batch is followed at once by the next claim, without waiting for pollInterval", () =>
    Effect.gen(function*() {
      yield* publishOrders(30)
      yield* Effect.forkScoped(Relay.run({ batchSize: 10, pollInterval: "1 hour" }))
      yield* Drain.untilDrained({ clock: "test", step: "1 millis", timeout: "20 millis" })
      expect((yield* RecordingSender.sentIds).length).toBe(30)
    }).pipe(Effect.provide(testEnv())))

  it.scoped("an idle relay wakes on publish, long before pollInterval", () =>
    Effect.gen(function*() {
      yield* Effect.forkScoped(Relay.run({ pollInterval: "1 hour" }))
      yield* TestClock.adjust("1 minute") // the relay is now idle, waiting
      const ids = yield* publishOrders(3)
      yield* Drain.untilSettled(ids, { clock: "test", step: "1 millis", timeout: "20 millis" })
      expect(yield* RecordingSender.sentIds).toEqual(ids)
    }).pipe(Effect.provide(testEnv())))

  it.scoped("keeps running through store errors, backing off", () =>
    Effect.gen(function*() {
      const real = yield* OutboxStore.OutboxStore
      const failing = yield* Ref.make(3)
      const flaky = OutboxStore.OutboxStore.of({
        ...real,
        claim: (options) =>
          Effect.flatMap(Ref.getAndUpdate(failing, (n) => n - 1), (n) =>
            n > 0 ? Effect.fail(new OutboxStore.OutboxStoreError({ operation: "claim", detail: "connection reset" })) : real.claim(options))
      })
      const ids = yield* publishOrders(2)
      yield* Effect.forkScoped(Relay.run().pipe(Effect.provideService(OutboxStore.OutboxStore, flaky)))
      yield* Drain.untilSettled(ids, { clock: "test" })
      expect(yield* RecordingSender.sentIds).toEqual(ids)
    }).pipe(Effect.provide(testEnv())))
})

// A sender whose every send takes `duration`, recording when batches were handed over.
const slowSender = (duration: Duration.DurationInput) =>
  Effect.gen(function*() {
    const batches = yield* Ref.make<ReadonlyArray<ReadonlyArray<string>>>([])
    const sender = Sender.Sender.of({
      send: (batch) =>
        Ref.update(batches, (all) => [...all, batch.map((m) => m.id)]).pipe(
          Effect.zipRight(Effect.sleep(duration)),
          Effect.as(batch.map((m) => Sender.SendResult.Sent({ id: m.id })))
        )
    })
    return { sender, batches: Ref.get(batches) }
  })

/** Advances the test clock a second at a time until `stopping` is done; returns the seconds it took. */
const stopWithin = (stopping: Fiber.RuntimeFiber<unknown>, maxSeconds: number) =>
  Effect.gen(function*() {
    for (let seconds = 1; seconds <= maxSeconds; seconds++) {
      yield* TestClock.adjust("1 second")
      if ((yield* Fiber.poll(stopping))._tag === "Some") return seconds
    }
    return yield* Effect.dieMessage(`the relay did not stop within ${maxSeconds} seconds`)
  })

describe("Relay shutdown", () => {
  it.effect("interruption mid-send finishes that batch's send and completion, and claims nothing more", () =>
    Effect.gen(function*() {
      const slow = yield* slowSender("10 seconds")
      const store = yield* OutboxStore.OutboxStore
      const ids = yield* publishOrders(5)
      const relay = yield* Effect.fork(
        Effect.scoped(Relay.run({ batchSize: 5, sendTimeout: "1 minute" })).pipe(Effect.provideService(Sender.Sender, slow.sender))
      )
      yield* TestClock.adjust("1 second") // the batch is now in flight
      expect(yield* store.stats).toMatchObject({ inFlight: 5 })
      const stopping = yield* Effect.fork(Fiber.interrupt(relay))
      yield* publishOrders(1) // must not be claimed: the relay is stopping
      expect(yield* stopWithin(stopping, 9)).toBe(9)
      expect(yield* store.unsettled(ids)).toEqual([])
      expect(yield* slow.batches).toEqual([ids])
      expect(yield* store.stats).toMatchObject({ pending: 1, inFlight: 0 })
    }).pipe(Effect.provide(testEnv())))

  it.effect("past shutdownTimeout an unfinished batch keeps its lease and is redelivered later, never lost", () =>
    Effect.gen(function*() {
      const slow = yield* slowSender("1 minute")
      const store = yield* OutboxStore.OutboxStore
      const ids = yield* publishOrders(3)
      const relay = yield* Effect.fork(
        Effect.scoped(Relay.run({ leaseFor: "30 seconds", shutdownTimeout: "5 seconds" })).pipe(
          Effect.provideService(Sender.Sender, slow.sender)
        )
      )
      yield* TestClock.adjust("1 second")
      const stopping = yield* Effect.fork(Fiber.interrupt(relay))
      expect(yield* stopWithin(stopping, 60)).toBe(5)
      expect(yield* store.stats).toMatchObject({ inFlight: 3 })
      yield* TestClock.adjust("1 minute") // lease expired
      const again = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30) })
      expect(again.messages.map((m) => [m.id, m.attempts, m.lostClaims])).toEqual(ids.map((id) => [id, 1, 1]))
    }).pipe(Effect.provide(testEnv())))

  it.scoped("a relay layer stops with its scope", () =>
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      const sender = yield* RecordingSender.RecordingSender
      const context = yield* Effect.context<OutboxStore.OutboxStore | Sender.Sender>()
      yield* Effect.scoped(
        Layer.build(Relay.layer().pipe(Layer.provide(Layer.succeedContext(context)))).pipe(
          Effect.zipRight(publishOrders(2)),
          Effect.zipRight(Drain.untilDrained({ clock: "test" }))
        )
      )
      yield* publishOrders(1)
      yield* TestClock.adjust("1 hour")
      expect((yield* sender.attempts).length).toBe(2)
      expect((yield* store.stats).pending).toBe(1)
    }).pipe(Effect.provide(testEnv())))
})

describe("Relay concurrency", () => {
  it.scoped("with concurrency 3, three batches are in flight at once", () =>
    Effect.gen(function*() {
      const inFlight = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const sender = Sender.Sender.of({
        send: (batch) =>
          Ref.updateAndGet(inFlight, (n) => n + 1).pipe(
            Effect.flatMap((n) => Ref.update(peak, (p) => Math.max(p, n))),
            Effect.zipRight(Effect.sleep("1 second")),
            Effect.zipRight(Ref.update(inFlight, (n) => n - 1)),
            Effect.as(batch.map((m) => Sender.SendResult.Sent({ id: m.id })))
          )
      })
      const ids = yield* publishOrders(30)
      yield* Effect.forkScoped(Relay.run({ batchSize: 5, concurrency: 3 }).pipe(Effect.provideService(Sender.Sender, sender)))
      yield* Drain.untilSettled(ids, { clock: "test" })
      expect(yield* Ref.get(peak)).toBe(3)
    }).pipe(Effect.provide(testEnv())))
})

describe("Relay lease renewal", () => {
  it.effect("a slow send keeps its lease: nobody else can claim the batch while it runs", () =>
    Effect.gen(function*() {
      const slow = yield* slowSender("30 seconds")
      const store = yield* OutboxStore.OutboxStore
      const ids = yield* publishOrders(3)
      const batch = yield* Effect.fork(
        Relay.drainOnce({ leaseFor: "10 seconds", sendTimeout: "1 minute" }).pipe(Effect.provideService(Sender.Sender, slow.sender))
      )
      for (let second = 0; second < 29; second += 4) {
        yield* TestClock.adjust("4 seconds")
        expect((yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(1) })).messages).toEqual([])
      }
      yield* TestClock.adjust("4 seconds")
      expect(yield* Fiber.join(batch)).toMatchObject({ claimed: 3, sent: 3, fenced: 0 })
      expect(yield* store.unsettled(ids)).toEqual([])
    }).pipe(Effect.provide(testEnv())))
})

describe("Relay with several relays", () => {
  it.scoped("two relays on one store deliver every message exactly once", () =>
    Effect.gen(function*() {
      const ids = yield* publishOrders(200)
      const slow = yield* slowSender("100 millis")
      const recorder = yield* RecordingSender.RecordingSender
      const both = Sender.Sender.of({
        send: (batch) => Effect.zipRight(slow.sender.send(batch), recorder.sender.send(batch))
      })
      for (let i = 0; i < 2; i++) {
        yield* Effect.forkScoped(Relay.run({ batchSize: 10 }).pipe(Effect.provideService(Sender.Sender, both)))
      }
      yield* Drain.untilDrained({ clock: "test", step: "50 millis" })
      expect([...(yield* RecordingSender.sentIds)].sort()).toEqual([...ids].sort())
      expect(yield* RecordingSender.duplicates).toBe(0)
      expect((yield* slow.batches).length).toBe(20)
    }).pipe(Effect.provide(testEnv())))

  it.scoped("with a lock, only the leader claims; when it stops, the other takes over", () =>
    Effect.gen(function*() {
      const lock = yield* Leadership.makeMemoryLock
      const a = yield* RecordingSender.make()
      const b = yield* RecordingSender.make()
      const relayWith = (recorder: typeof a) =>
        Effect.scoped(Relay.run({ pollInterval: "1 second" })).pipe(
          Effect.provideService(Sender.Sender, recorder.sender),
          Effect.provide(Leadership.layerMemoryLock(lock))
        )
      const first = yield* Effect.fork(relayWith(a))
      yield* TestClock.adjust("10 millis")
      yield* Effect.forkScoped(relayWith(b))
      const early = yield* publishOrders(5)
      yield* Drain.untilSettled(early, { clock: "test" })
      expect((yield* a.attempts).length).toBe(5)
      expect((yield* b.attempts).length).toBe(0)
      yield* Fiber.interrupt(first)
      const late = yield* publishOrders(5)
      yield* Drain.untilSettled(late, { clock: "test" })
      expect((yield* b.attempts).map((x) => x.message.id)).toEqual(late)
      expect((yield* a.attempts).length).toBe(5)
    }).pipe(Effect.provide(testEnv())))

  it.scoped("a relay that loses the lock stops claiming at once", () =>
    Effect.gen(function*() {
      const lock = yield* Leadership.makeMemoryLock
      const recorder = yield* RecordingSender.RecordingSender
      yield* Effect.forkScoped(Relay.run().pipe(Effect.provide(Leadership.layerMemoryLock(lock))))
      yield* TestClock.adjust("10 millis")
      // Someone else holds the lock now.
      yield* Ref.set(lock.holder, 999)
      const ids = yield* publishOrders(2)
      yield* TestClock.adjust("1 minute")
      expect((yield* recorder.attempts).length).toBe(0)
      yield* lock.revoke
      yield* Drain.untilSettled(ids, { clock: "test" })
      expect(yield* RecordingSender.sentIds).toEqual(ids)
    }).pipe(Effect.provide(testEnv())))
})
