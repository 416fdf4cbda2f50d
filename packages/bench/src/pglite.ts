/**
 * The same throughput and publish figures on the embedded PGlite database. Its
 * floor is the same two-step loop written against PGlite's own `query`, on the
 * same (single) session.
 */
import { PgliteClient } from "@effect-outbox/pglite"
import { Migrations } from "@effect-outbox/sql"
import { Effect, Layer } from "effect"
import { twoStep } from "./floors.js"
import { type Figure, now, ratio } from "./harness.js"
import { relayDrain } from "./library.js"
import { measure } from "./publish.js"

const schema = "bench"

export const run = (quick: boolean): Promise<Array<Figure>> =>
  Effect.gen(function*() {
    const database = yield* Layer.build(PgliteClient.layer())
    const pglite = (yield* Effect.provide(PgliteClient.PgliteClient, database)).pglite
    yield* Migrations.run({ schema }).pipe(Effect.provide(database))
    const total = quick ? 5_000 : 20_000
    const seedAll = Effect.promise(() =>
      pglite.query(
        `INSERT INTO ${schema}.outbox (topic, payload)
         SELECT 'order.created', jsonb_build_object('orderId', 'order-' || g, 'customer', 'customer-' || (g % 1000), 'total', g * 1.5, 'note', repeat('x', 120))
         FROM generate_series(1, $1::int) g`,
        [total]
      ))
    const figures: Array<Figure> = []
    for (const batchSize of [10, 100]) {
      yield* seedAll
      const started = now()
      let drained = 0
      for (;;) {
        const claimed = yield* Effect.promise(() => pglite.query<{ id: string }>(twoStep.claim(schema), [batchSize]))
        if (claimed.rows.length === 0) break
        yield* Effect.promise(() => pglite.query(twoStep.remove(schema), [claimed.rows.map((row) => row.id)]))
        drained += claimed.rows.length
      }
      const floor = drained / ((now() - started) / 1000)
      yield* seedAll
      const relay = yield* relayDrain(schema, { batchSize, relays: 1, total }, database.pipe(Layer.succeedContext))
      figures.push(
        { id: `pglite.floor.b${batchSize}`, group: "pglite", name: `floor: two-step loop on PGlite (batch ${batchSize}, ${total} msgs)`, value: floor, unit: "msg/s" },
        {
          id: `pglite.lease.b${batchSize}`,
          group: "pglite",
          name: `relay on PGlite (batch ${batchSize}, ${total} msgs)`,
          value: relay,
          unit: "msg/s",
          versus: { name: "two-step floor", value: floor, ratio: ratio(relay, floor) }
        }
      )
    }
    const publish = yield* measure(schema, quick ? 500 : 1_000, Layer.succeedContext(database), 1)
    return [...figures, ...publish.map((figure) => ({ ...figure, id: `pglite.${figure.id}`, group: "pglite" }))]
  }).pipe(Effect.scoped, Effect.runPromise)
