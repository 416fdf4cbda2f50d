import { Leadership, OutboxStore, Relay, Sender } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { SqlOutboxStore } from "@effect-outbox/sql"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Ref } from "effect"
import { eventually } from "@effect-outbox/test-support/Eventually"
import { drained, migratedSchema, pgLayer, seed, storeOn } from "./postgres.js"

// In lease mode a full, all-delivered batch is acked by the next claim
// (`ackAndClaim`): these tests show that the acks held between two claims are
// neither lost nor doubled, however the relay stops.
const TestSql = pgLayer("effect-outbox-folded-acks-test", 4)

/** A lease-mode relay in batches of 10 on `schema`, forked in the test's scope. */
const relayOn = (
  schema: string,
  name: string,
  sender: Sender.Sender["Type"],
  extra: { readonly observer?: Relay.RelayObserver["Type"]; readonly leadership?: Leadership.Leadership["Type"] } = {}
) => {
  let services = Context.make(Sender.Sender, sender)
  if (extra.observer !== undefined) services = Context.add(services, Relay.RelayObserver, extra.observer)
  if (extra.leadership !== undefined) services = Context.add(services, Leadership.Leadership, extra.leadership)
  return Effect.forkScoped(
    Relay.run({ batchSize: 10, pollInterval: "50 millis" }).pipe(
      Effect.provide(storeOn(schema, name)),
      Effect.provide(services)
    )
  )
}

const storeIn = (schema: string) => OutboxStore.OutboxStore.pipe(Effect.provide(SqlOutboxStore.layer({ schema, migrate: false })))

describe("Folded acks on Postgres", () => {
  it.live("a backlog drained in full batches: each message delivered once, every batch reported, the table empty", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 1_000)
      const recorder = yield* RecordingSender.make()
      const reported = yield* Ref.make(0)
      const observer = Relay.RelayObserver.of({ onBatch: (summary) => Ref.update(reported, (n) => n + summary.sent) })
      yield* relayOn(schema, `${schema}-relay`, recorder.sender, { observer })
      yield* drained(schema)
      const ids = (yield* recorder.attempts).map((attempt) => attempt.message.id)
      expect(ids).toHaveLength(1_000)
      expect(new Set(ids).size).toBe(1_000)
      // The last batch's acks ride on a claim that finds nothing: reported all the same.
      yield* eventually("every delivery to be reported", Effect.map(Ref.get(reported), (n) => n === 1_000))
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)

  it.live("a relay stopped mid-backlog settles the acks it held: nothing it delivered stays leased to be sent again", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 500)
      const recorder = yield* RecordingSender.make()
      const delivered = yield* Ref.make(0)
      const enough = yield* Deferred.make<void>()
      const sender = Sender.Sender.of({
        send: (batch) =>
          Effect.tap(recorder.sender.send(batch), () =>
            Ref.updateAndGet(delivered, (n) => n + batch.length).pipe(
              Effect.flatMap((n) => n >= 100 ? Deferred.succeed(enough, undefined) : Effect.void)
            ))
      })
      const relay = yield* relayOn(schema, `${schema}-stopped`, sender)
      yield* Deferred.await(enough)
      yield* Fiber.interrupt(relay)
      const sent = (yield* recorder.attempts).map((attempt) => attempt.message.id)
      const store = yield* storeIn(schema)
      const stats = yield* store.stats
      expect(stats.inFlight).toBe(0)
      // Every delivered message is settled; every other one is still pending, unleased.
      expect(yield* store.unsettled(sent)).toEqual([])
      expect(stats.pending).toBe(500 - sent.length)
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)

  it.live("a relay that loses leadership settles the acks it held before it stands by", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 500)
      const recorder = yield* RecordingSender.make()
      const leading = yield* Ref.make(true)
      // Leadership goes once 100 messages are out: the worker then holds the last full batch's acks.
      const sender = Sender.Sender.of({
        send: (batch) =>
          Effect.tap(recorder.sender.send(batch), () =>
            Effect.flatMap(recorder.attempts, (attempts) => attempts.length >= 100 ? Ref.set(leading, false) : Effect.void))
      })
      yield* relayOn(schema, `${schema}-follower`, sender, { leadership: { isLeader: Ref.get(leading) } })
      const store = yield* storeIn(schema)
      yield* eventually("the relay to stand by", Effect.map(recorder.attempts, (attempts) => attempts.length >= 100))
      // Well inside the 30 s lease: only a settled batch explains it.
      yield* eventually("nothing delivered to stay leased", Effect.map(store.stats, (stats) => stats.inFlight === 0), 5)
      const sent = (yield* recorder.attempts).map((attempt) => attempt.message.id)
      expect(yield* store.unsettled(sent)).toEqual([])
      expect((yield* store.stats).pending).toBe(500 - sent.length)
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)

  // The NOTIFY is sent while the first send is held, so the relay usually sees the
  // wake-up before that send returns and folds the short batch's acks into its next claim.
  it.live("messages published while a short batch is being sent: all delivered once, none left leased", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 3)
      const recorder = yield* RecordingSender.make()
      const sending = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // The first send (a short batch of 3) waits until more messages were published and announced.
      const sender = Sender.Sender.of({
        send: (batch) =>
          Effect.gen(function*() {
            if (!(yield* Deferred.isDone(sending))) {
              yield* Deferred.succeed(sending, undefined)
              yield* Deferred.await(release)
            }
            return yield* recorder.sender.send(batch)
          })
      })
      yield* relayOn(schema, `${schema}-woken`, sender)
      yield* Deferred.await(sending)
      yield* seed(schema, 2)
      const sql = yield* SqlClient.SqlClient
      yield* sql`SELECT pg_notify(${`${schema}.outbox`}, 'append')`
      yield* Deferred.succeed(release, undefined)
      // Well inside the 30 s lease: only settled acks explain an empty outbox.
      yield* drained(schema, 10)
      const ids = (yield* recorder.attempts).map((attempt) => attempt.message.id)
      expect(ids).toHaveLength(5)
      expect(new Set(ids).size).toBe(5)
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)
})
