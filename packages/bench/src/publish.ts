/**
 * Publish cost: transactions inserting a business row (a) alone, (b) with a
 * hand-written outbox INSERT + pg_notify (one statement, as the library does),
 * (c) with `Outbox.publish`, (d) with a keyed `Outbox.publish` (which takes the
 * key's advisory lock, for ordered delivery). All through the same @effect/sql
 * client and pool, so only the library's own work differs between (b) and (c),
 * and only the key's lock between (c) and (d).
 */
import { Outbox } from "@effect-outbox/core"
import { SqlOutboxStore } from "@effect-outbox/sql"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import { type Figure, median, ratio, withSchema } from "./harness.js"
import { migrate, order, OrderCreated, pgLayer, publishRate } from "./library.js"

export const measure = (
  schema: string,
  count: number,
  database: Layer.Layer<SqlClient.SqlClient, unknown>,
  rounds = 3
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(`${schema}.orders`)} (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`
    const orders = sql(`${schema}.orders`)
    const outbox = sql(`${schema}.outbox`)
    const insertOrder = (n: number) => sql`INSERT INTO ${orders} (customer, total) VALUES (${`customer-${n % 1000}`}, ${n * 1.5})`
    const alone = (n: number) => sql.withTransaction(insertOrder(n))
    const byHand = (n: number) =>
      sql.withTransaction(Effect.zipRight(
        insertOrder(n),
        sql`WITH inserted AS (
              INSERT INTO ${outbox} (topic, payload, headers) VALUES ('order.created', ${JSON.stringify(order(n))}::jsonb, '{}'::jsonb)
              RETURNING id)
            SELECT id FROM inserted, (SELECT pg_notify(${`${schema}.outbox`}, 'append')) AS wake`
      ))
    const withLibrary = (n: number) => sql.withTransaction(Effect.zipRight(insertOrder(n), Outbox.publish(OrderCreated, order(n))))
    const keyed = (n: number) =>
      sql.withTransaction(
        Effect.zipRight(insertOrder(n), Outbox.publish(OrderCreated, order(n), { key: `customer-${n % 1000}` }))
      )
    const figures: Array<Figure> = []
    for (const fibers of [1, 8]) {
      // Warm up each path once, then rounds of a, b, c, d (reversed every other
      // round, so drift in the machine's load hits every path alike); medians.
      for (const write of [alone, byHand, withLibrary, keyed]) yield* publishRate(Math.min(100, count), fibers, write)
      // Each run lasts about a second and a half at (b)'s rate, within `count`.
      const perRun = Math.max(100, Math.min(count, Math.round((yield* publishRate(100, fibers, byHand)) * 1.5)))
      const rates: Array<Array<number>> = [[], [], [], []]
      const paths = [alone, byHand, withLibrary, keyed]
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? [0, 1, 2, 3] : [3, 2, 1, 0]
        for (const index of order) {
          const path = paths[index]
          if (path !== undefined) rates[index]?.push(yield* publishRate(perRun, fibers, path))
        }
      }
      const [a, b, c, d] = rates.map(median) as [number, number, number, number]
      const mode = fibers === 1 ? "sequential" : `${fibers} concurrent fibers`
      const key = fibers === 1 ? "sequential" : `fibers${fibers}`
      figures.push(
        { id: `publish.alone.${key}`, group: "publish", name: `(a) order row alone, ${mode}`, value: a, unit: "tx/s" },
        { id: `publish.by-hand.${key}`, group: "publish", name: `(b) + hand-written outbox insert and pg_notify, ${mode}`, value: b, unit: "tx/s" },
        {
          id: `publish.${key}`,
          group: "publish",
          name: `(c) + Outbox.publish, ${mode} (median of ${rounds} rounds)`,
          value: c,
          unit: "tx/s",
          // Cost is time per transaction: (c)/(b) of cost is b/c of rate.
          versus: { name: "cost vs (b)", value: b, ratio: ratio(b, c) },
          note: `cost ${ratio(a, c).toFixed(2)}× (a)`,
          target: "cost ≤ 1.05× (b)"
        },
        {
          id: `publish.keyed.${key}`,
          group: "publish",
          name: `(d) + Outbox.publish with a key (1,000 keys), ${mode}`,
          value: d,
          unit: "tx/s",
          versus: { name: "cost vs (c)", value: c, ratio: ratio(c, d) },
          note: "the key's transaction-scoped advisory lock, for ordered delivery"
        }
      )
    }
    return figures
  }).pipe(Effect.provide(Layer.provideMerge(Outbox.layer, SqlOutboxStore.layer({ schema, migrate: false })).pipe(Layer.provideMerge(database))))

export const run = (quick: boolean): Promise<Array<Figure>> =>
  withSchema("publish", async (schema) => {
    await Effect.runPromise(migrate(schema))
    return Effect.runPromise(measure(schema, quick ? 500 : 1_500, pgLayer(8), quick ? 1 : 3).pipe(Effect.scoped))
  })
