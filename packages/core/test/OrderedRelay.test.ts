import { MemoryStore, Outbox, OutboxStore, Relay, RetryPolicy, Sender, Topic } from "@effect-outbox/core"
import { Drain, OrderCheck, RecordingSender } from "@effect-outbox/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema, TestClock } from "effect"

const AccountEvent = Topic.make("account.event", Schema.Struct({ account: Schema.String, seq: Schema.Number }))

const keys = 1_000
const perKey = 3
const poisonKey = "acct-7"
const isPoison = (payload: unknown) => (payload as { readonly account: string; readonly seq: number }).account === poisonKey &&
  (payload as { readonly seq: number }).seq === 0

/** Publishes `perKey` events for each of `keys` accounts, interleaved as real traffic is. */
const publishEvents = Effect.gen(function*() {
  const published: Array<{ readonly id: string; readonly key: string; readonly seq: number }> = []
  for (let seq = 0; seq < perKey; seq++) {
    const batch = Array.from({ length: keys }, (_, k) => ({
      topic: AccountEvent,
      payload: { account: `acct-${k}`, seq },
      options: { key: `acct-${k}` }
    }))
    const ids = yield* Outbox.publishAll(batch)
    ids.forEach((id, k) => published.push({ id, key: `acct-${k}`, seq }))
  }
  return published
})

// The poison head fails every time; 60 s between tries, 5 tries: dead-lettered at 240 s.
const policy = RetryPolicy.fixed({ delay: "60 seconds", maxAttempts: 5 })

const env = Layer.provideMerge(
  Outbox.layer,
  Layer.mergeAll(
    MemoryStore.layer,
    RecordingSender.layer((message) => (isPoison(message.payload) ? "failed" : "sent"))
  )
)

/** Publishes the events and forks an ordered relay whose sender is checked for ordering. */
const startOrdered = (deadLetteredKey: "block" | "skip") =>
  Effect.gen(function*() {
    const published = yield* publishEvents
    const recorder = yield* RecordingSender.RecordingSender
    const check = yield* OrderCheck.make(recorder.sender, OrderCheck.earlierOnKey(published))
    yield* Relay.run({ ordered: true, deadLetteredKey, retryPolicy: policy, batchSize: 100, pollInterval: "10 seconds" }).pipe(
      Effect.provideService(Sender.Sender, check.sender),
      Effect.forkScoped
    )
    const poison = published.find((p) => p.key === poisonKey && p.seq === 0)?.id ?? ""
    const poisonKeyIds = published.filter((p) => p.key === poisonKey).map((p) => p.id)
    const others = published.filter((p) => p.key !== poisonKey).map((p) => p.id)
    return { published, check, poison, poisonKeyIds, others }
  })

/** Ids handed over (first time) for one key, in order. */
const firstHandoversOf = (check: OrderCheck.OrderCheck, key: string) =>
  Effect.map(check.firstHandovers, (all) => all.get(key) ?? [])

// #region readme-ordered
// Each account's events in publish order; a dead-lettered event parks its account.
const RelayLive = Relay.layer({
  ordered: ["account.event"],
  deadLetteredKey: "block",
  retryPolicy: RetryPolicy.exponential({ base: "1 second", maxAttempts: 5 })
})

const openAccount = (account: string) =>
  Effect.gen(function*() {
    yield* Outbox.publish(AccountEvent, { account, seq: 1 }, { key: account })
    yield* Outbox.publish(AccountEvent, { account, seq: 2 }, { key: account })
  })
// #endregion

describe("Relay, ordered", () => {
  it.scoped("a poison head delays only its key: the other 999 keys complete, in order, while it retries", () =>
    Effect.gen(function*() {
      const { check, others, poison, poisonKeyIds } = yield* startOrdered("block")
      yield* Drain.untilSettled(others, { clock: "test", step: "100 millis", timeout: "60 seconds" })
      const store = yield* OutboxStore.OutboxStore
      // Still retrying: not yet dead, tried more than once, and nothing after it on its key was sent.
      expect((yield* store.stats).dead).toBe(0)
      const poisonTries = (yield* RecordingSender.attempts).filter((a) => a.message.id === poison).length
      expect(poisonTries).toBeGreaterThanOrEqual(1)
      expect(poisonTries).toBeLessThan(5)
      expect(yield* store.unsettled(poisonKeyIds)).toEqual(poisonKeyIds)
      expect(yield* firstHandoversOf(check, poisonKey)).toEqual([poison])
      for (let k = 0; k < keys; k++) {
        if (`acct-${k}` === poisonKey) continue
        const handed = yield* firstHandoversOf(check, `acct-${k}`)
        expect(handed).toHaveLength(perKey)
        expect([...handed].sort((a, b) => Number(a) - Number(b))).toEqual(handed)
      }
      expect(yield* check.violations).toEqual([])
    }).pipe(Effect.provide(env)))

  it.scoped("block: the dead-lettered head parks its key, shown with its reason, until it is replayed", () =>
    Effect.gen(function*() {
      const { check, poison, poisonKeyIds } = yield* startOrdered("block")
      yield* Drain.untilSettled([poison], { clock: "test", step: "10 seconds", timeout: "10 minutes" })
      const store = yield* OutboxStore.OutboxStore
      expect((yield* store.stats).parkedKeys).toBe(1)
      expect((yield* store.deadLetters.parkedKeys()).map((p) => [p.key, p.messageId, p.reason])).toEqual([
        [poisonKey, poison, "Exhausted"]
      ])
      // Parked: ten minutes later the rest of the key is still waiting, untouched.
      yield* TestClock.adjust("10 minutes")
      const rest = poisonKeyIds.slice(1)
      expect(yield* store.unsettled(rest)).toEqual(rest)
      expect(yield* firstHandoversOf(check, poisonKey)).toEqual([poison])
      // The receiver is fixed and the letter replayed: the key resumes from it, in order.
      yield* RecordingSender.setBehaviour(RecordingSender.alwaysSend)
      expect(yield* store.deadLetters.replay({ ids: [poison] })).toBe(1)
      const stats = yield* Drain.untilDrained({ clock: "test", step: "1 second", timeout: "1 minute" })
      expect(stats).toMatchObject({ dead: 0, parkedKeys: 0 })
      expect(yield* firstHandoversOf(check, poisonKey)).toEqual(poisonKeyIds)
      const sentOnKey = (yield* RecordingSender.sent).filter((m) => m.key === poisonKey).map((m) => m.id)
      expect(sentOnKey).toEqual(poisonKeyIds)
      expect(yield* check.violations).toEqual([])
    }).pipe(Effect.provide(env)))

  it.scoped("skip: the dead-lettered head is kept as a dead letter and its key moves on", () =>
    Effect.gen(function*() {
      const { check, poison, poisonKeyIds } = yield* startOrdered("skip")
      const stats = yield* Drain.untilDrained({ clock: "test", step: "10 seconds", timeout: "10 minutes" })
      expect(stats).toMatchObject({ dead: 1, parkedKeys: 0 })
      const store = yield* OutboxStore.OutboxStore
      expect((yield* store.deadLetters.list({})).map((l) => [l.id, l.reason, l.parksKey])).toEqual([
        [poison, "Exhausted", false]
      ])
      expect(yield* firstHandoversOf(check, poisonKey)).toEqual(poisonKeyIds)
      expect(yield* RecordingSender.duplicates).toBe(0)
      expect(yield* check.violations).toEqual([])
    }).pipe(Effect.provide(env)))

  it.scoped("per-topic ordering leaves other topics and unkeyed messages unordered", () =>
    Effect.gen(function*() {
      const Audit = Topic.make("audit", Schema.Struct({ n: Schema.Number }))
      yield* Outbox.publish(AccountEvent, { account: "a", seq: 0 }, { key: "a" })
      yield* Outbox.publish(AccountEvent, { account: "a", seq: 1 }, { key: "a" })
      yield* Outbox.publish(Audit, { n: 1 }, { key: "a" })
      yield* Outbox.publish(Audit, { n: 2 }, { key: "a" })
      yield* Outbox.publish(Audit, { n: 3 })
      const summary = yield* Relay.drainOnce({ ordered: ["account.event"] })
      expect(summary.sent).toBe(4)
      expect((yield* RecordingSender.sent).map((m) => [m.topic, m.payload])).toEqual([
        ["account.event", { account: "a", seq: 0 }],
        ["audit", { n: 1 }],
        ["audit", { n: 2 }],
        ["audit", { n: 3 }]
      ])
    }).pipe(Effect.provide(env)))

  it.scoped("README: an ordered relay delivers each account's events in publish order, whatever fails", () =>
    Effect.gen(function*() {
      yield* Effect.forEach(["a", "b", "c"], openAccount)
      yield* Layer.launch(RelayLive).pipe(Effect.forkScoped)
      yield* Drain.untilDrained({ clock: "test", step: "1 second" })
      const sent = (yield* RecordingSender.sent).map((m) => m.payload as { readonly account: string; readonly seq: number })
      for (const account of ["a", "b", "c"]) {
        expect(sent.filter((p) => p.account === account).map((p) => p.seq)).toEqual([1, 2])
      }
    }).pipe(Effect.provide(Layer.provideMerge(
      Outbox.layer,
      Layer.mergeAll(MemoryStore.layer, RecordingSender.layer(RecordingSender.failFirst(2)))
    ))))
})
