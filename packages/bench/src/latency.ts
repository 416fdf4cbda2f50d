/**
 * Push latency: a producer commits 200 messages a second while the relay waits
 * idle (its poll interval far longer than the run), so NOTIFY is what wakes
 * it; delivery time minus commit time, in both claim modes. The floor is the
 * same work by hand with `pg` (see `floorRoundTrips`), measured the same way.
 */
import { Outbox, Relay, Sender } from "@effect-outbox/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import { twoStep } from "./floors.js"
import { client, type Figure, now, percentile, ratio, withSchema } from "./harness.js"
import { migrate, order, OrderCreated, pgLayer, quiet, storeWithNotify } from "./library.js"

const ratePerSecond = 200

const pause = (until: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, until - now())))

/**
 * The floor: the hand-written equivalent of the relay's work. A `pg` client
 * idle on LISTEN claims, on each notification, with the two-step loop's claim
 * and acks; a producer commits INSERT + NOTIFY at 200/s on another connection.
 * ms from the producer's COMMIT returning to the claim returning the row (its no-op send).
 */
const floorRoundTrips = async (schema: string, seconds: number): Promise<Array<number>> => {
  const listener = await client()
  const producer = await client()
  const committedAt = new Map<string, number>()
  const deliveredAt = new Map<string, number>()
  let draining: Promise<void> | undefined
  let again = false
  const drain = async () => {
    do {
      again = false
      for (;;) {
        const claimed = await listener.query<{ id: string }>(twoStep.claim(schema), [100])
        if (claimed.rows.length === 0) break
        const at = now()
        for (const row of claimed.rows) deliveredAt.set(String(row.id), at)
        await listener.query(twoStep.remove(schema), [claimed.rows.map((row) => row.id)])
      }
    } while (again)
    draining = undefined
  }
  listener.on("notification", () => {
    if (draining !== undefined) again = true
    else draining = drain()
  })
  await listener.query(`LISTEN "raw_${schema}"`)
  const started = now()
  const count = seconds * ratePerSecond
  for (let i = 0; i < count; i++) {
    await pause(started + (i * 1000) / ratePerSecond)
    await producer.query("BEGIN")
    const inserted = await producer.query<{ id: string }>(
      `INSERT INTO ${schema}.outbox (topic, payload) VALUES ('raw', $1::jsonb) RETURNING id`,
      [JSON.stringify(order(i))]
    )
    await producer.query(`SELECT pg_notify($1, 'append')`, [`raw_${schema}`])
    await producer.query("COMMIT")
    committedAt.set(String(inserted.rows[0]?.id), now())
  }
  const deadline = now() + 2_000
  while (deliveredAt.size < count && now() < deadline) await pause(now() + 10)
  await draining
  await listener.end()
  await producer.end()
  return [...committedAt].flatMap(([id, committed]) => {
    const delivered = deliveredAt.get(id)
    return delivered === undefined ? [] : [Math.max(0, delivered - committed)]
  })
}

/** The relay, idle on NOTIFY, delivering what a producer commits at 200/s; ms from commit to the sender. */
const relayRoundTrips = (schema: string, seconds: number, claimMode: Relay.ClaimMode) =>
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
    yield* Effect.forkScoped(Relay.run({ pollInterval: "1 hour", claimMode }).pipe(Effect.orDie, Effect.provideService(Sender.Sender, sender)))
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
      return delivered === undefined ? [] : [Math.max(0, delivered - committed)]
    })
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.provideMerge(Outbox.layer, storeWithNotify(schema)).pipe(Layer.provideMerge(pgLayer(4)))),
    quiet
  )

export const run = (quick: boolean): Promise<Array<Figure>> =>
  withSchema("latency", async (schema) => {
    const seconds = quick ? 3 : 6
    await Effect.runPromise(migrate(schema))
    const floor = await floorRoundTrips(schema, seconds)
    const figures: Array<Figure> = []
    for (const [label, p] of [["p50", 50], ["p99", 99]] as const) {
      figures.push({
        id: `latency.floor.${label}`,
        group: "latency",
        name: `floor: pg client on LISTEN, two-step claim and ack, ${label} (${floor.length} delivered)`,
        value: percentile(floor, p),
        unit: "ms"
      })
    }
    for (const claimMode of ["lease", "transactional"] as const) {
      const relay = await Effect.runPromise(relayRoundTrips(schema, seconds, claimMode))
      for (const [label, p] of [["p50", 50], ["p99", 99], ["max", 100]] as const) {
        const floorValue = percentile(floor, p)
        const relayValue = percentile(relay, p)
        figures.push({
          id: `latency.${claimMode}.${label}`,
          group: "latency",
          name: `push latency, ${claimMode} mode, ${label}, ${ratePerSecond} msg/s for ${seconds} s (${relay.length} delivered)`,
          value: relayValue,
          unit: "ms",
          versus: { name: `floor ${label}`, value: floorValue, ratio: ratio(relayValue, floorValue) },
          target: label === "p99" ? "≤ 2× the floor" : undefined
        })
      }
    }
    return figures
  })
