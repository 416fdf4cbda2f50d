import { Outbox, OutboxStore, type Relay, RetryPolicy, Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { eventually } from "@effect-outbox/test-support/Eventually"
import { migratedSchema, pgLayer, relayProcess, storeOn } from "./postgres.js"

const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

// Polls a minute apart: a message attempted within seconds was woken by its due time.
const slowPoll: Relay.Options = {
  pollInterval: "1 minute",
  retryPolicy: RetryPolicy.fixed({ delay: "300 millis", maxAttempts: 5 })
}

const TestSql = pgLayer("effect-outbox-due", 4)

/** Waits until the relay's LISTEN connection is up (LISTEN is asynchronous). */
const listening = (name: string) =>
  eventually(
    "the relay to listen",
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.map(
        sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity
          WHERE application_name = ${`${name}:listen`} AND query LIKE 'LISTEN%'`,
        (rows) => Number(rows[0]?.n) === 1
      ))
  )

/** A producer "process": its own pool and store, no relay. */
const producer = (schema: string, name: string) => Layer.provideMerge(Outbox.layer, storeOn(schema, name))

const attemptsOf = (recorder: RecordingSender.RecordingSender["Type"], id: string) =>
  Effect.map(recorder.attempts, (all) => all.filter((a) => a.message.id === id).map((a) => a.at))

// Under the one-minute poll, 15 s is a deadline only a due-time wake-up can meet.
const attemptedTwice = (recorder: RecordingSender.RecordingSender["Type"], id: string) =>
  eventually("the second attempt", Effect.map(attemptsOf(recorder, id), (at) => at.length >= 2), 15)

describe("Due-time wake-ups on Postgres (pollInterval 1 minute)", () => {
  it.live("a retry is attempted when it comes due, not at the next poll", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const recorder = yield* RecordingSender.make(RecordingSender.failFirst(1))
      yield* relayProcess(schema, `${schema}-relay`, recorder.sender, slowPoll)
      yield* listening(`${schema}-relay`)
      const id = yield* Outbox.publish(OrderCreated, { n: 1 }).pipe(Effect.provide(producer(schema, `${schema}-app`)))
      yield* attemptedTwice(recorder, id)
      const [first = 0, second = 0] = yield* attemptsOf(recorder, id)
      expect(second - first).toBeGreaterThanOrEqual(300)
      expect(second - first).toBeLessThan(5_000)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("a delayed message published by another process is attempted when due", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const recorder = yield* RecordingSender.make()
      yield* relayProcess(schema, `${schema}-relay`, recorder.sender, slowPoll)
      yield* listening(`${schema}-relay`)
      const published = yield* Clock.currentTimeMillis
      const id = yield* Outbox.publish(OrderCreated, { n: 1 }, { delay: "500 millis" }).pipe(
        Effect.provide(producer(schema, `${schema}-app`))
      )
      yield* eventually("the delayed message to be attempted", Effect.map(attemptsOf(recorder, id), (at) => at.length === 1), 15)
      const [attempted = 0] = yield* attemptsOf(recorder, id)
      expect(attempted - published).toBeGreaterThanOrEqual(500)
      expect(attempted - published).toBeLessThan(5_000)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))

  it.live("a retry written by another relay process is attempted when due by the idle relay", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const recorder = yield* RecordingSender.make()
      // The other relay process claims the message before the idle relay starts
      // (a running relay would take it first), so the idle relay finds it leased.
      const other = yield* Layer.build(producer(schema, `${schema}-other`))
      const store = Context.get(other, OutboxStore.OutboxStore)
      const id = yield* Outbox.publish(OrderCreated, { n: 1 }).pipe(Effect.provide(other))
      const claim = yield* store.claim({ batchSize: 10, leaseFor: Duration.minutes(1) })
      expect(claim.messages.map((message) => message.id)).toEqual([id])
      yield* relayProcess(schema, `${schema}-idle`, recorder.sender, slowPoll)
      yield* listening(`${schema}-idle`)
      // Its send failed: it writes the retry, due in 300 ms, and moves on.
      const report = yield* store.complete(claim.token, [
        OutboxStore.Completion.Retry({ id, delay: Duration.millis(300), error: "503 from the receiver" })
      ])
      expect(report.completed).toEqual([id])
      const retried = yield* Clock.currentTimeMillis
      yield* eventually("the retry to be attempted", Effect.map(attemptsOf(recorder, id), (at) => at.length === 1), 15)
      const [attempted = 0] = yield* attemptsOf(recorder, id)
      expect(attempted - retried).toBeGreaterThanOrEqual(250) // the database's clock, read a moment before ours
      expect(attempted - retried).toBeLessThan(5_000)
    }).pipe(Effect.scoped, Effect.provide(TestSql)))
})
