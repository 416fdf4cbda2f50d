import { Leadership, MemoryStore, Outbox, OutboxStore, Relay, Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import * as Health from "@effect-outbox/node/Health"
import * as RelayProgress from "@effect-outbox/node/RelayProgress"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Schema, TestClock } from "effect"

const Ping = Topic.make("ping", Schema.Struct({ n: Schema.Number }))
const publish = (count: number) =>
  Outbox.publishAll(Array.from({ length: count }, (_, i) => ({ topic: Ping, payload: { n: i } })))

const options: Health.Options = { stallThreshold: "1 minute" }

const env = (behaviour: RecordingSender.Behaviour = RecordingSender.alwaysSend) =>
  Layer.mergeAll(Outbox.layer, RecordingSender.layer(behaviour), RelayProgress.layer).pipe(
    Layer.provideMerge(MemoryStore.layer)
  )

/** Runs the tracked relay in the test's scope. */
const runRelay = (relayOptions: Relay.Options = {}) =>
  Effect.forkScoped(RelayProgress.track(Relay.run({ pollInterval: "1 second", ...relayOptions })))

describe("Health.readiness", () => {
  it.scoped("not ready before the relay runs; ready once it runs with nothing pending", () =>
    Effect.gen(function*() {
      const before = yield* Health.readiness(options)
      expect(before.ready).toBe(false)
      expect(before.checks.relay).toMatchObject({ ok: false, state: "not started" })

      yield* runRelay()
      yield* TestClock.adjust("10 millis")
      const after = yield* Health.readiness(options)
      expect(after).toMatchObject({
        ready: true,
        checks: {
          store: { ok: true, stats: { pending: 0 } },
          relay: { ok: true, state: "running" },
          leadership: { ok: true, leader: true },
          progress: { ok: true, detail: "nothing is pending" }
        }
      })
    }).pipe(Effect.provide(env())))

  it.scoped("a stuck relay with old pending messages becomes unready after the stall threshold", () =>
    Effect.gen(function*() {
      // The first batch hangs in the sender: the relay settles nothing while more messages wait.
      yield* publish(3)
      const relay = yield* runRelay({ batchSize: 1, sendTimeout: "1 hour", shutdownTimeout: "1 second" })
      yield* TestClock.adjust("59 seconds")
      expect((yield* Health.readiness(options)).ready).toBe(true)

      yield* TestClock.adjust("2 seconds")
      const stuck = yield* Health.readiness(options)
      expect(stuck.ready).toBe(false)
      expect(stuck.checks.store.ok).toBe(true)
      expect(stuck.checks.relay.ok).toBe(true)
      expect(stuck.checks.progress).toMatchObject({
        ok: false,
        detail: "stalled: 2 messages pending (the oldest for 61 s) and nothing settled for 61 s",
        lastProgressSecondsAgo: 61,
        stallThresholdSeconds: 60
      })
      // Shut the relay down: its hung batch is abandoned after shutdownTimeout (virtual time).
      const stopping = yield* Effect.fork(Fiber.interrupt(relay))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stopping)
      expect((yield* Health.readiness(options)).checks.relay).toMatchObject({
        ok: false,
        detail: "the relay was shut down"
      })
    }).pipe(Effect.provide(env(RecordingSender.hang()))))

  it.effect("a settled batch makes a stalled relay ready again", () =>
    Effect.gen(function*() {
      const progress = yield* RelayProgress.RelayProgress
      yield* progress.markRunning
      yield* publish(2)
      yield* TestClock.adjust("5 minutes")
      expect((yield* Health.readiness(options)).checks.progress.ok).toBe(false)

      yield* progress.record({ claimed: 1, sent: 1, retried: 0, deadLettered: 0, fenced: 0 })
      const report = yield* Health.readiness(options)
      expect(report.ready).toBe(true)
      expect(report.checks.progress.detail).toBe("last settled a batch 0 s ago")
      // Retries count as progress too: the loop works even while the receiver is down.
      yield* TestClock.adjust("5 minutes")
      yield* progress.record({ claimed: 1, sent: 0, retried: 1, deadLettered: 0, fenced: 0 })
      expect((yield* Health.readiness(options)).ready).toBe(true)
    }).pipe(Effect.provide(env())))

  it.effect("messages held behind a parked key are reported, not a stall: only an operator can move them", () =>
    Effect.gen(function*() {
      const progress = yield* RelayProgress.RelayProgress
      yield* progress.markRunning
      const store = yield* OutboxStore.OutboxStore
      yield* store.append([1, 2, 3].map((n) => ({ topic: "ping", key: "k", payload: { n }, headers: {} })))
      const claim = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30), ordered: "all" })
      yield* store.complete(claim.token, [
        OutboxStore.Completion.DeadLetter({ id: claim.messages[0]?.id ?? "", reason: "Rejected", error: "422", parkKey: true })
      ])
      yield* TestClock.adjust("5 minutes")
      const report = yield* Health.readiness(options)
      expect(report.ready).toBe(true)
      expect(report.checks.progress).toMatchObject({
        ok: true,
        detail: "waiting: 2 messages pending, 1 keys parked behind dead letters (replay or purge them to resume); nothing settled for 300 s"
      })
    }).pipe(Effect.provide(env())))

  it.effect("messages arriving after a long idle spell are not a stall", () =>
    Effect.gen(function*() {
      const progress = yield* RelayProgress.RelayProgress
      yield* progress.markRunning
      yield* TestClock.adjust("1 hour")
      yield* publish(5)
      yield* TestClock.adjust("30 seconds")
      const report = yield* Health.readiness(options)
      expect(report.ready).toBe(true)
      expect(report.checks.progress.detail).toBe("last settled a batch 3630 s ago")
    }).pipe(Effect.provide(env())))

  it.scoped("a relay whose fiber died is not ready, and says why", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(RelayProgress.track(Effect.dieMessage("boom in the drain loop")))
      yield* Fiber.await(fiber)
      const report = yield* Health.readiness(options)
      expect(report.ready).toBe(false)
      expect(report.checks.relay).toMatchObject({ ok: false, state: "stopped" })
      expect(report.checks.relay.detail).toContain("boom in the drain loop")
    }).pipe(Effect.provide(env())))

  it.effect("a dead relay makes the runner fail with RelayStopped (exit 1), naming why; a shutdown does not", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(RelayProgress.track(Effect.dieMessage("boom in the drain loop")))
      yield* Fiber.await(fiber)
      const stopped = yield* Effect.flip(RelayProgress.failWhenStopped)
      expect(stopped).toBeInstanceOf(RelayProgress.RelayStopped)
      expect(stopped.message).toContain("boom in the drain loop")
      expect(stopped.message).toContain("exiting so that a supervisor restarts the runner")
    }).pipe(Effect.provide(RelayProgress.layer)))

  it.scoped("a claim that keeps failing makes the relay unready within failureThreshold, with the SQL error as the reason", () =>
    Effect.gen(function*() {
      yield* runRelay()
      yield* TestClock.adjust("29 seconds")
      const early = yield* Health.readiness({ ...options, failureThreshold: "30 seconds" })
      expect(early.checks.relay).toMatchObject({ ok: true, detail: expect.stringContaining("integer out of range") })
      yield* TestClock.adjust("2 seconds")
      const report = yield* Health.readiness({ ...options, failureThreshold: "30 seconds" })
      expect(report.ready).toBe(false)
      expect(report.checks.store.ok).toBe(true) // stats still answer: only the claim statement fails
      expect(report.checks.relay).toMatchObject({
        ok: false,
        state: "running",
        detail: expect.stringMatching(/^the relay's drain steps have failed for 3\d s: Outbox store claim failed: integer out of range$/)
      })
    }).pipe(
      Effect.provide(RelayProgress.layer),
      Effect.provide(RecordingSender.layer()),
      Effect.provide(Layer.effect(
        OutboxStore.OutboxStore,
        Effect.map(MemoryStore.make, (store) => ({
          ...store,
          claim: () =>
            new OutboxStore.OutboxStoreError({ operation: "claim", detail: "integer out of range", kind: "Statement" })
        }))
      ))
    ))

  it.effect("an unreachable store is not ready, with the store's error", () =>
    Effect.gen(function*() {
      const progress = yield* RelayProgress.RelayProgress
      yield* progress.markRunning
      const report = yield* Health.readiness(options)
      expect(report.ready).toBe(false)
      expect(report.checks.store).toMatchObject({ ok: false, stats: null, detail: "Outbox store stats failed: connection refused" })
      expect(report.checks.progress.detail).toBe("not checked: the store is unreachable")
    }).pipe(
      Effect.provide(RelayProgress.layer),
      Effect.provide(Layer.effect(
        OutboxStore.OutboxStore,
        Effect.map(MemoryStore.make, (store) => ({
          ...store,
          stats: new OutboxStore.OutboxStoreError({ operation: "stats", detail: "connection refused" })
        }))
      ))
    ))

  it.effect("a store that does not answer within storeTimeout is not ready", () =>
    Effect.gen(function*() {
      yield* (yield* RelayProgress.RelayProgress).markRunning
      const checking = yield* Effect.fork(Health.readiness({ storeTimeout: "2 seconds" }))
      yield* TestClock.adjust("2 seconds")
      const report = yield* Fiber.join(checking)
      expect(report.checks.store).toMatchObject({ ok: false, detail: "the store did not answer within 2s" })
    }).pipe(
      Effect.provide(RelayProgress.layer),
      Effect.provide(Layer.effect(
        OutboxStore.OutboxStore,
        Effect.map(MemoryStore.make, (store) => ({ ...store, stats: Effect.never }))
      ))
    ))

  it.effect("a standby replica is ready and its progress is not checked", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(RelayProgress.RelayProgress, (progress) => progress.markRunning)
      yield* publish(2)
      yield* TestClock.adjust("1 hour")
      // Another replica holds leadership.
      const report = yield* Health.readiness(options).pipe(
        Effect.provide(Layer.succeed(Leadership.Leadership, { isLeader: Effect.succeed(false) }))
      )
      expect(report.ready).toBe(true)
      expect(report.checks.leadership).toMatchObject({ ok: true, leader: false })
      expect(report.checks.progress.detail).toBe("not checked: another relay holds leadership")
    }).pipe(Effect.provide(env())))
})
