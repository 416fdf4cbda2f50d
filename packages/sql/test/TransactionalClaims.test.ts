import { OutboxStore, Relay, RetryPolicy, Sender } from "@effect-outbox/core"
import { OrderCheck, RecordingSender } from "@effect-outbox/core/testing"
import { SqlOutboxStore } from "@effect-outbox/sql"
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Ref } from "effect"
import { eventually } from "@effect-outbox/test-support/Eventually"
import { drained, migratedSchema, pgLayer, relayProcess, seed, storeOn } from "./postgres.js"

const TestSql = pgLayer("effect-outbox-transactional-test", 4)

const storeIn = (schema: string) => SqlOutboxStore.layer({ schema, migrate: false })

const transactional = { claimMode: "transactional", pollInterval: "50 millis" } as const

/** The server connections of one relay "process" that sit in an open transaction. */
const openTransactions = (applicationName: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ pid: number }>`SELECT pid FROM pg_stat_activity
      WHERE application_name = ${applicationName} AND state = 'idle in transaction'`)

describe("Transactional claim mode on Postgres", () => {
  it.live("a connection killed mid-send rolls the batch back: it comes back at once, counted, and nothing is lost", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 250)
      const name = `${schema}-killed`
      const killedOnce = yield* Ref.make(false)
      const sql = yield* SqlClient.SqlClient
      const recorder = yield* RecordingSender.make()
      // The first send cuts its own relay's transaction connection, then reports success:
      // the commit cannot happen, so the batch must come back.
      const sender = Sender.Sender.of({
        send: (batch) =>
          Effect.gen(function*() {
            if (!(yield* Ref.getAndSet(killedOnce, true))) {
              const [open] = yield* Effect.orDie(Effect.provideService(openTransactions(name), SqlClient.SqlClient, sql))
              expect(open).toBeDefined()
              yield* Effect.orDie(sql`SELECT pg_terminate_backend(${open?.pid ?? 0})`)
            }
            return yield* recorder.sender.send(batch)
          })
      })
      yield* relayProcess(schema, name, sender, { ...transactional, batchSize: 100 })
      yield* drained(schema)

      const attempts = yield* recorder.attempts
      const ids = new Set(attempts.map((a) => a.message.id))
      expect(ids.size).toBe(250)
      // The first batch went out twice (at least once), and its second delivery
      // carries the rolled-back claim, counted as lost (not as a failed send).
      const firstBatch = attempts.slice(0, 100)
      const again = attempts.slice(100).filter((a) => firstBatch.some((f) => f.message.id === a.message.id))
      expect(again.length).toBe(100)
      expect(new Set(firstBatch.map((a) => [a.message.attempts, a.message.lostClaims].join()))).toEqual(new Set(["1,0"]))
      expect(new Set(again.map((a) => [a.message.attempts, a.message.lostClaims].join()))).toEqual(new Set(["1,1"]))
      const left = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(`${schema}.outbox`)}`)
      expect(Number(left[0]?.n)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)

  it.live("a batch whose send always times out counts every attempt and reaches its dead letter", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      yield* seed(schema, 3)
      const recorder = yield* RecordingSender.make(RecordingSender.hang())
      yield* relayProcess(schema, `${schema}-timeout`, recorder.sender, {
        ...transactional,
        sendTimeout: "100 millis",
        retryPolicy: RetryPolicy.fixed({ delay: "10 millis", maxAttempts: 3 })
      })
      const store = yield* OutboxStore.OutboxStore.pipe(Effect.provide(storeIn(schema)))
      yield* eventually("the batch to be dead-lettered", Effect.map(store.stats, (stats) => stats.dead === 3))
      const letters = yield* store.deadLetters.list({})
      expect(letters.map((l) => [l.reason, l.attempts, l.lastError])).toEqual(
        Array.from({ length: 3 }, () => ["Exhausted", 3, "Send failed: timed out after 100ms"])
      )
      // Each attempt was handed to the sender once, and no more.
      expect((yield* recorder.attempts).length).toBe(9)
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)

  it.live("ordered delivery: two workers, failing sends, and each key still goes out in publish order", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const store = yield* OutboxStore.OutboxStore.pipe(Effect.provide(storeIn(schema)))
      const published: Array<{ readonly id: string; readonly key: string }> = []
      for (let seq = 0; seq < 10; seq++) {
        const round = Array.from({ length: 50 }, (_, k) => ({ topic: "acct", key: `k${k}`, payload: { seq }, headers: {} }))
        const ids = yield* store.append(round)
        ids.forEach((id, k) => published.push({ id, key: `k${k}` }))
      }
      // Every message fails on its first hand-over, so every head is retried in its transaction.
      const recorder = yield* RecordingSender.make((_, handed) => (handed === 1 ? "failed" : "sent"))
      const check = yield* OrderCheck.make(recorder.sender, OrderCheck.earlierOnKey(published)).pipe(
        Effect.provide(storeIn(schema))
      )
      yield* relayProcess(schema, `${schema}-ordered`, check.sender, {
        ...transactional,
        ordered: true,
        batchSize: 20,
        concurrency: 2,
        retryPolicy: RetryPolicy.fixed({ delay: "10 millis", maxAttempts: 5 })
      })
      yield* drained(schema, 60)
      expect(yield* check.violations).toEqual([])
      const first = yield* check.firstHandovers
      for (let k = 0; k < 50; k++) {
        expect(first.get(`k${k}`)).toEqual(published.filter((p) => p.key === `k${k}`).map((p) => p.id))
      }
      const sent = (yield* recorder.attempts).filter((a) => a.outcome === "sent")
      expect(new Set(sent.map((a) => a.message.id)).size).toBe(500)
      expect(new Set(sent.map((a) => a.message.attempts))).toEqual(new Set([2]))
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)

  it.live("shutdown: the batch in flight commits within shutdownTimeout, or rolls back past it, claimable at once", () =>
    Effect.gen(function*() {
      for (const [shutdownTimeout, sendTakes] of [["30 seconds", "300 millis"], ["100 millis", "1 hour"]] as const) {
        const schema = yield* migratedSchema
        yield* seed(schema, 5)
        const entered = yield* Deferred.make<void>()
        // A slow send (not a wait for an event): it is what shutdown has to wait for, or give up on.
        const sender = Sender.Sender.of({
          send: (batch) =>
            Deferred.succeed(entered, undefined).pipe(
              Effect.zipRight(Effect.sleep(sendTakes)),
              Effect.as(batch.map((m) => Sender.SendResult.Sent({ id: m.id })))
            )
        })
        const relay = yield* Effect.forkScoped(
          Effect.scoped(Relay.run({ ...transactional, shutdownTimeout })).pipe(
            Effect.provideService(Sender.Sender, sender),
            Effect.provide(storeOn(schema, `${schema}-shutdown`))
          )
        )
        yield* Deferred.await(entered)
        yield* Fiber.interrupt(relay)
        const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ lost_claims: number }>`SELECT lost_claims FROM ${sql(`${schema}.outbox`)}`)
        if (sendTakes === "300 millis") {
          expect(rows).toEqual([])
        } else {
          // Rolled back, with the lost claim counted; and not leased: a claim gets it at once.
          expect(rows.map((r) => r.lost_claims)).toEqual([1, 1, 1, 1, 1])
          const claim = yield* Effect.flatMap(OutboxStore.OutboxStore, (s) =>
            s.claim({ batchSize: 10, leaseFor: Duration.seconds(30) })).pipe(Effect.provide(storeIn(schema)))
          expect(claim.messages.length).toBe(5)
        }
      }
    }).pipe(Effect.scoped, Effect.provide(TestSql)), 60_000)

  it.effect("a pool too small for the workers' transactions is refused at start, with what to change", () =>
    Effect.gen(function*() {
      const schema = yield* migratedSchema
      const exit = yield* Layer.launch(
        Relay.layer({ ...transactional, concurrency: 4 }).pipe(
          Layer.provide(storeOn(schema, `${schema}-pool`)),
          Layer.provide(Layer.succeed(Sender.Sender, Sender.Sender.of({ send: () => Effect.succeed([]) })))
        )
      ).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain(
        "concurrency 4 needs a pool of at least 5 connections"
      )
    }).pipe(Effect.scoped, Effect.provide(TestSql)))
})
