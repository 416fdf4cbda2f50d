/**
 * One bad message never stops the relay nor takes its batch with it: each
 * case below puts a bad row (written straight into the table) between two
 * good ones in one batch, runs the relay as `outbox run` does (tracked, on
 * Postgres, into a webhook), and checks that the good ones are delivered once
 * and acked, the bad one is dead-lettered alone with a reason naming the
 * field, and the relay still runs and delivers what comes next.
 */
import { Outbox, OutboxStore, RetryPolicy, Topic } from "@effect-outbox/core"
import * as Health from "@effect-outbox/node/Health"
import * as RelayProgress from "@effect-outbox/node/RelayProgress"
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, Layer, Schema } from "effect"
import { eventually } from "@effect-outbox/test-support/Eventually"
import {
  deadLetters,
  freshSchema,
  good,
  insertRows,
  outboxRows,
  Pg,
  type RawRow,
  relayOn,
  startReceiver,
  webhookTo
} from "./hostileRows.js"

const Order = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

type Receiver = Effect.Effect.Success<ReturnType<typeof startReceiver>>

/** Inserts `rows` (one batch), runs the relay into the receiver, and waits until the outbox is empty. */
const runBatch = (schema: string, receiver: Receiver, rows: ReadonlyArray<RawRow>) =>
  Effect.gen(function*() {
    const ids = yield* insertRows(schema, rows)
    const running = yield* Layer.build(relayOn(schema, webhookTo(receiver.url), {
      retryPolicy: RetryPolicy.fixed({ delay: "10 millis", maxAttempts: 3 })
    }))
    yield* eventually("the batch to be settled", Effect.map(outboxRows(schema), (left) => left === 0))
    return { ids, running }
  })

/**
 * The good ones were delivered once each and acked (the outbox is empty), the
 * dead letters are exactly `dead` (id, reason, a text their error contains),
 * and the relay still runs: a message published now is delivered too.
 */
const expectIsolated = (
  schema: string,
  receiver: Receiver,
  goods: ReadonlyArray<string | undefined>,
  dead: ReadonlyArray<readonly [string | undefined, string, string]>
) =>
  Effect.gen(function*() {
    const deliveries = yield* receiver.deliveries
    expect(goods.map((id) => deliveries.get(id ?? ""))).toEqual(goods.map(() => 1))
    expect(yield* outboxRows(schema)).toBe(0)
    const letters = yield* deadLetters(schema)
    expect(letters.map((letter) => [letter.id, letter.reason])).toEqual(dead.map(([id, reason]) => [id, reason]))
    dead.forEach(([, , text], index) => expect(letters[index]?.last_error).toContain(text))
    const progress = yield* RelayProgress.RelayProgress
    expect((yield* progress.snapshot).state._tag).toBe("Running")
    const next = yield* Outbox.publish(Order, { n: 99 })
    yield* eventually("a message published afterwards to be delivered", Effect.map(receiver.deliveries, (all) => all.get(next) === 1))
  })

describe("hostile rows on Postgres: one bad message never stops the relay nor takes its batch with it", () => {
  it.live("a traceparent that is a number: refused at publish; in a row, dead-lettered Malformed alone", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchema
      const receiver = yield* startReceiver()
      const { ids: [g1, bad, g2], running } = yield* runBatch(schema, receiver, [
        good(1),
        { ...good(2), headers: "{\"traceparent\": 123}" },
        good(3)
      ])
      yield* Effect.gen(function*() {
        yield* expectIsolated(schema, receiver, [g1, g2], [[bad, "Malformed", "headers.traceparent"]])
        const refused = yield* Effect.flip(
          Outbox.publish(Order, { n: 4 }, { headers: { traceparent: 123 as unknown as string } })
        )
        expect(refused.message).toBe("Cannot publish to topic \"order.created\": headers.traceparent must be a string, not number")
      }).pipe(Effect.provide(running))
    }).pipe(Effect.scoped, Effect.provide(Pg)))

  it.live("created_at = infinity: dead-lettered Malformed alone, its batch mates delivered (not Exhausted with it)", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchema
      const receiver = yield* startReceiver()
      const { ids: [g1, bad, g2], running } = yield* runBatch(schema, receiver, [
        good(1),
        { ...good(2), created_at: "infinity" },
        good(3)
      ])
      yield* expectIsolated(schema, receiver, [g1, g2], [[bad, "Malformed", "created_at: expected a valid date"]]).pipe(
        Effect.provide(running)
      )
    }).pipe(Effect.scoped, Effect.provide(Pg)))

  it.live("attempts at the integer maximum: claimed and settled without overflow; its failure dead-letters it Exhausted", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchema
      // The receiver fails whatever comes at the maximum attempt number.
      const receiver = yield* startReceiver((request) => request.headers["outbox-attempt"] === "2147483647" ? 503 : 204)
      const { ids: [g1, bad, g2], running } = yield* runBatch(schema, receiver, [
        good(1),
        { ...good(2), attempts: 2_147_483_647 },
        good(3)
      ])
      yield* expectIsolated(schema, receiver, [g1, g2], [[bad, "Exhausted", "HTTP 503"]]).pipe(Effect.provide(running))
      expect((yield* deadLetters(schema))[0]?.attempts).toBe(2_147_483_647)
    }).pipe(Effect.scoped, Effect.provide(Pg)))

  it.live("a claim statement that fails is an SQL error, not an unreachable store, and makes /readyz unready within failureThreshold", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchema
      const sql = yield* SqlClient.SqlClient
      const receiver = yield* startReceiver()
      const table = sql(`${schema}.outbox`)
      const [g1, g2] = yield* insertRows(schema, [good(1), good(2)])
      // Break the claim statement (not the connection): the column it writes is gone.
      yield* sql`ALTER TABLE ${table} RENAME COLUMN lost_claims TO lost_claims_gone`
      const running = yield* Layer.build(relayOn(schema, webhookTo(receiver.url)))
      yield* Effect.gen(function*() {
        const store = yield* OutboxStore.OutboxStore
        const failure = yield* Effect.flip(store.claim({ batchSize: 1, leaseFor: Duration.seconds(1) }))
        expect(failure).toMatchObject({ kind: "Statement", operation: "claim" })
        expect(failure.message).toContain("lost_claims does not exist")
        const readiness = Health.readiness({ failureThreshold: "1 second" })
        yield* eventually("the runner to be unready", Effect.map(readiness, (report) => !report.ready))
        const report = yield* readiness
        expect(report.checks.store.ok).toBe(true) // the store answers; only the claim fails
        expect(report.checks.relay.detail).toMatch(/^the relay's drain steps have failed for \d+ s: Outbox store claim failed: .*lost_claims does not exist/)
        // Repaired: the relay, still running, delivers both, once, and is ready again.
        yield* sql`ALTER TABLE ${table} RENAME COLUMN lost_claims_gone TO lost_claims`
        yield* eventually("the batch to be delivered", Effect.map(outboxRows(schema), (left) => left === 0), 30)
        yield* eventually("the runner to be ready again", Effect.map(readiness, (again) => again.ready))
        yield* expectIsolated(schema, receiver, [g1, g2], [])
      }).pipe(Effect.provide(running))
    }).pipe(Effect.scoped, Effect.provide(Pg)), 60_000)

  it.live("CR/LF in a topic, key or traceparent: refused at publish; in a row, dead-lettered Malformed at once; an emoji topic is delivered", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchema
      const receiver = yield* startReceiver()
      const { ids: [g1, badTopic, badKey, badTrace, emoji, g2], running } = yield* runBatch(schema, receiver, [
        good(1),
        { ...good(2), topic: "order\r\ncreated" },
        { ...good(3), key: "customer\r\n7" },
        { ...good(4), headers: JSON.stringify({ traceparent: "00-abc\r\nx-evil: 1" }) },
        { ...good(5), topic: "order.créé 🎉" },
        good(6)
      ])
      yield* Effect.gen(function*() {
        yield* expectIsolated(schema, receiver, [g1, emoji, g2], [
          [badTopic, "Malformed", "topic: must not contain control characters"],
          [badKey, "Malformed", "key: must not contain control characters"],
          [badTrace, "Malformed", "headers.traceparent: must not contain control characters"]
        ])
        // Refused at once: none was sent, none was retried.
        expect((yield* deadLetters(schema)).map((letter) => letter.attempts)).toEqual([1, 1, 1])
        const emojiRequest = (yield* receiver.received).find((request) => request.headers["webhook-id"] === emoji)
        expect(decodeURIComponent(emojiRequest?.headers["outbox-topic"] ?? "")).toBe("order.créé 🎉")
        const badKeyPublish = yield* Effect.flip(Outbox.publish(Order, { n: 7 }, { key: "customer\r\n7" }))
        expect(badKeyPublish.message).toContain("key contains a control character")
        const badTopicPublish = yield* Effect.flip(Outbox.publish(Topic.make("order\ncreated", Order.schema), { n: 8 }))
        expect(badTopicPublish.message).toContain("topic contains a control character")
      }).pipe(Effect.provide(running))
    }).pipe(Effect.scoped, Effect.provide(Pg)))
})
