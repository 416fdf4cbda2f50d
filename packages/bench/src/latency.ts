/**
 * Push latency: a producer commits 200 messages a second while the relay waits
 * idle (its poll interval far longer than the run), so NOTIFY is what wakes
 * it; delivery time minus commit time. The floor is a raw LISTEN/NOTIFY round
 * trip measured the same way with `pg`.
 */
import { Outbox, Relay, Sender } from "@effect-outbox/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import { client, type Figure, now, percentile, ratio, withSchema } from "./harness.js"
import { migrate, order, OrderCreated, pgLayer, quiet, storeWithNotify } from "./library.js"

const ratePerSecond = 200

const pause = (until: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, until - now())))

/** LISTEN on one connection, commit INSERT + NOTIFY on another at 200/s; ms from commit to notification. */
const rawRoundTrips = async (schema: string, seconds: number): Promise<Array<number>> => {
  const listener = await client()
  const producer = await client()
  const committedAt = new Map<string, number>()
  const latencies: Array<number> = []
  listener.on("notification", (notification) => {
    const committed = committedAt.get(notification.payload ?? "")
    if (committed !== undefined) latencies.push(now() - committed)
  })
  await listener.query(`LISTEN "raw_${schema}"`)
  const started = now()
  const count = seconds * ratePerSecond
  for (let i = 0; i < count; i++) {
    await pause(started + (i * 1000) / ratePerSecond)
    await producer.query("BEGIN")
    await producer.query(`INSERT INTO ${schema}.outbox (topic, payload) VALUES ('raw', $1::jsonb)`, [JSON.stringify(order(i))])
    await producer.query(`SELECT pg_notify($1, $2)`, [`raw_${schema}`, String(i)])
    await producer.query("COMMIT")
    committedAt.set(String(i), now())
  }
  const deadline = now() + 2_000
  while (latencies.length < count && now() < deadline) await pause(now() + 10)
  await listener.end()
  await producer.end()
  return latencies
}

/** The relay, idle on NOTIFY, delivering what a producer commits at 200/s; ms from commit to the sender. */
const relayRoundTrips = (schema: string, seconds: number) =>
  Effect.gen(function*() {
    const committedAt = new Map<string, number>()
    const deliveredAt = new Map<string, number>()
    const sender = Sender.Sender.of({
      send: (batch) =>
        Effect.sync(() => {
          const at = now()
          for (const message of batch) if (!deliveredAt.has(message.id)) deliveredAt.set(message.id, at)
          return batch.map((message) => Sender.SendResult.Sent({ id: message.id }))
        })
    })
    yield* Effect.forkScoped(Relay.run({ pollInterval: "1 hour" }).pipe(Effect.provideService(Sender.Sender, sender)))
    const sql = yield* SqlClient.SqlClient
    yield* Effect.sleep("500 millis") // the relay's LISTEN connection comes up (a warm-up, not a measurement)
    const started = now()
    const count = seconds * ratePerSecond
    for (let i = 0; i < count; i++) {
      yield* Effect.promise(() => pause(started + (i * 1000) / ratePerSecond))
      const id = yield* sql.withTransaction(Outbox.publish(OrderCreated, order(i)))
      committedAt.set(id, now())
    }
    const deadline = now() + 5_000
    while (deliveredAt.size < count && now() < deadline) yield* Effect.sleep("10 millis")
    return [...committedAt].flatMap(([id, committed]) => {
      const delivered = deliveredAt.get(id)
      return delivered === undefined ? [] : [delivered - committed]
    })
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.provideMerge(Outbox.layer, storeWithNotify(schema)).pipe(Layer.provideMerge(pgLayer(4)))),
    quiet
  )

export const run = (quick: boolean): Promise<Array<Figure>> =>
  withSchema("latency", async (schema) => {
    const seconds = quick ? 3 : 10
    await Effect.runPromise(migrate(schema))
    const floor = await rawRoundTrips(schema, seconds)
    const relay = await Effect.runPromise(relayRoundTrips(schema, seconds))
    const figures: Array<Figure> = []
    for (const [label, p] of [["p50", 50], ["p99", 99], ["max", 100]] as const) {
      const floorValue = percentile(floor, p)
      const relayValue = percentile(relay, p)
      figures.push({
        group: "latency",
        name: `push latency ${label}, ${ratePerSecond} msg/s for ${seconds} s (${relay.length} delivered)`,
        value: relayValue,
        unit: "ms",
        versus: { name: `LISTEN/NOTIFY ${label}`, value: floorValue, ratio: ratio(relayValue, floorValue) },
        target: label === "p99" ? "≤ 2× the floor" : undefined
      })
    }
    return figures
  })
