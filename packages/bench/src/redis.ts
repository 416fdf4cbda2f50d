/**
 * The relay into Redis Streams next to hand-written XADD loops with the same
 * batch size, on the local Redis (or OUTBOX_BENCH_REDIS=host:port):
 *
 * - end to end: the relay (lease mode) with `RedisStreamsSender` draining the
 *   outbox table, vs a `pg` two-step loop that appends each claimed batch with
 *   one pipelined round of plain `XADD`s before deleting it;
 * - the sender alone: `RedisStreamsSender.send` of in-memory batches (one
 *   dedupe script per message), vs one pipelined round of plain `XADD`s.
 *
 * Every key is written under a prefix of this run and deleted afterwards; the
 * shared server is never flushed.
 */
import type { Message, MessageRow } from "@effect-outbox/core"
import { Sender } from "@effect-outbox/core"
import { RedisStreamsSender } from "@effect-outbox/redis"
import { Context, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import type pg from "pg"
import { twoStep } from "./floors.js"
import { client, type Figure, now, ratio, seed, withSchema } from "./harness.js"
import { migrate, quiet, relayDrain } from "./library.js"

const address = (() => {
  const [host = "127.0.0.1", port = "6379"] = (process.env.OUTBOX_BENCH_REDIS ?? "127.0.0.1:6379").split(":")
  return { host, port: Number(port) }
})()

const batchSize = 100

/** A claimed row: core's stored row (the columns the sender writes), with the id as node-pg returns a bigint. */
type Row = Pick<MessageRow.Row, "topic" | "key" | "payload" | "headers" | "attempts" | "created_at"> & { readonly id: string }

/** The same fields the sender writes, appended with plain XADD (no dedupe). */
const xadd = (pipeline: ReturnType<Redis["pipeline"]>, stream: string, row: Row) =>
  pipeline.xadd(
    stream,
    "*",
    "id",
    row.id,
    "topic",
    row.topic,
    ...(row.key === null ? [] : ["key", row.key]),
    "attempt",
    String(row.attempts),
    "createdAt",
    row.created_at.toISOString(),
    "headers",
    JSON.stringify(row.headers),
    "payload",
    JSON.stringify(row.payload)
  )

const exec = async (pipeline: ReturnType<Redis["pipeline"]>) => {
  for (const [error] of (await pipeline.exec()) ?? []) if (error !== null) throw error
}

/** The hand-written relay: lease a batch, append it in one pipelined round, delete it. msgs/s. */
const handWrittenRelay = async (schema: string, redis: Redis, stream: string) => {
  const connection: pg.Client = await client()
  try {
    let drained = 0
    const started = now()
    for (;;) {
      const claimed = await connection.query<Row>(twoStep.claim(schema), [batchSize])
      if (claimed.rows.length === 0) break
      const pipeline = redis.pipeline()
      for (const row of claimed.rows) xadd(pipeline, stream, row)
      await exec(pipeline)
      await connection.query(twoStep.remove(schema), [claimed.rows.map((row) => row.id)])
      drained += claimed.rows.length
    }
    return drained / ((now() - started) / 1000)
  } finally {
    await connection.end()
  }
}

const messages = (total: number, prefix: string): Array<Message.OutboxMessage> =>
  Array.from({ length: total }, (_, n) => ({
    id: `${prefix}${n}`,
    topic: "order.created",
    key: null,
    payload: { orderId: `order-${n}`, customer: `customer-${n % 1000}`, total: n * 1.5, note: "x".repeat(120) },
    headers: {},
    attempts: 1,
    lostClaims: 0,
    createdAt: new Date(0),
    availableAt: new Date(0)
  }))

const batches = <A>(items: ReadonlyArray<A>) =>
  Array.from({ length: Math.ceil(items.length / batchSize) }, (_, i) => items.slice(i * batchSize, (i + 1) * batchSize))

/** Plain XADD rounds of `batchSize`, awaited one after the other. msgs/s. */
const rawXadd = async (redis: Redis, stream: string, all: ReadonlyArray<Message.OutboxMessage>) => {
  const started = now()
  for (const batch of batches(all)) {
    const pipeline = redis.pipeline()
    for (const message of batch) {
      xadd(pipeline, stream, { ...message, created_at: message.createdAt, headers: { ...message.headers } })
    }
    await exec(pipeline)
  }
  return all.length / ((now() - started) / 1000)
}

/** `RedisStreamsSender.send` of batches of `batchSize`, one after the other. msgs/s. */
const senderOnly = (sender: Sender.Sender["Type"], all: ReadonlyArray<Message.OutboxMessage>) =>
  Effect.gen(function*() {
    const started = now()
    for (const batch of batches(all)) {
      const results = yield* sender.send(batch)
      if (results.some((result) => result._tag !== "Sent")) return yield* Effect.dieMessage("a message was not sent")
    }
    return all.length / ((now() - started) / 1000)
  })

const deleteKeys = async (redis: Redis, prefix: string) => {
  // The scan stream yields each round's keys; its chunks are untyped.
  for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<Array<string>>) {
    if (keys.length > 0) await redis.del(...keys)
  }
}

export const run = async (quick: boolean): Promise<Array<Figure>> => {
  const total = quick ? 5_000 : 20_000
  const prefix = `outbox-bench-${process.pid}:`
  const redis = new Redis({ ...address, lazyConnect: true, retryStrategy: () => null })
  await redis.connect()
  const options = { ...address, streamPrefix: `${prefix}relay:`, dedupePrefix: `${prefix}relay` }
  try {
    const endToEnd = await withSchema("redis", async (schema) => {
      await Effect.runPromise(migrate(schema))
      await seed(schema, total)
      const floor = await handWrittenRelay(schema, redis, `${prefix}floor:order.created`)
      await seed(schema, total)
      const sender = RedisStreamsSender.make(options)
      const relay = await Effect.runPromise(
        Effect.flatMap(sender, (send) => relayDrain(schema, { batchSize, relays: 1, total, sender: send })).pipe(
          Effect.scoped,
          quiet
        )
      )
      return { floor, relay }
    })
    // The sender alone, after an untimed warm-up round of each.
    const warm = messages(batchSize * 10, `${prefix}warm-`)
    const all = messages(total, `${prefix}m-`)
    const alone = await Effect.runPromise(
      Effect.gen(function*() {
        const sender = Context.get(
          yield* Layer.build(RedisStreamsSender.layer({ ...address, streamPrefix: `${prefix}sender:`, dedupePrefix: `${prefix}sender` })),
          Sender.Sender
        )
        yield* senderOnly(sender, warm)
        yield* Effect.promise(() => rawXadd(redis, `${prefix}raw-warm`, warm))
        const raw = yield* Effect.promise(() => rawXadd(redis, `${prefix}raw:order.created`, all))
        const library = yield* senderOnly(sender, all)
        return { raw, library }
      }).pipe(Effect.scoped, quiet)
    )
    const label = `batch ${batchSize}, ${total} msgs`
    return [
      { id: `redis.floor.b${batchSize}`, group: "redis", name: `floor: pg two-step loop + one pipelined XADD round per batch (${label})`, value: endToEnd.floor, unit: "msg/s" },
      {
        id: `redis.relay.b${batchSize}`,
        group: "redis",
        name: `relay → RedisStreamsSender, lease mode (${label})`,
        value: endToEnd.relay,
        unit: "msg/s",
        versus: { name: "hand-written loop", value: endToEnd.floor, ratio: ratio(endToEnd.relay, endToEnd.floor) }
      },
      { id: `redis.floor-xadd.b${batchSize}`, group: "redis", name: `floor: pipelined plain XADD rounds, no database (${label})`, value: alone.raw, unit: "msg/s" },
      {
        id: `redis.sender.b${batchSize}`,
        group: "redis",
        name: `RedisStreamsSender.send alone, dedupe script per message (${label})`,
        value: alone.library,
        unit: "msg/s",
        versus: { name: "plain XADD rounds", value: alone.raw, ratio: ratio(alone.library, alone.raw) }
      }
    ]
  } finally {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  }
}
