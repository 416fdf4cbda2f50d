/**
 * Plan cliffs: the claim on a burst of freshly inserted rows that the planner
 * has no statistics for (no ANALYZE yet; autovacuum off, or outrun), against
 * the same claim once the table is analyzed. Both claim kinds, through the store.
 */
import { SqlOutboxStore } from "@effect-outbox/sql"
import { Duration, Effect } from "effect"
import { type Figure, now, query, ratio, seed, withSchema } from "./harness.js"
import { migrate, pgLayer, quiet } from "./library.js"

/** ms of one claim of 100 through the store. */
const timeClaim = (schema: string, ordered: boolean) =>
  Effect.gen(function*() {
    const store = yield* SqlOutboxStore.make({ schema, migrate: false })
    const started = now()
    const claim = yield* store.claim({ batchSize: 100, leaseFor: Duration.seconds(30), ordered: ordered ? "all" : undefined })
    if (claim.messages.length !== 100) return yield* Effect.dieMessage(`claimed ${claim.messages.length}, not 100`)
    return now() - started
  }).pipe(Effect.scoped, Effect.provide(pgLayer(1)), quiet, Effect.runPromise)

export const run = (quick: boolean): Promise<Array<Figure>> =>
  withSchema("cliff", async (schema) => {
    const rows = quick ? 30_000 : 100_000
    await Effect.runPromise(migrate(schema))
    await seed(schema, rows, { keys: 1_000, spread: "round-robin" }, false)
    const fresh = { unordered: await timeClaim(schema, false), ordered: await timeClaim(schema, true) }
    await query(`ANALYZE ${schema}.outbox`)
    const analyzed = { unordered: await timeClaim(schema, false), ordered: await timeClaim(schema, true) }
    const size = `${rows / 1000}k rows just inserted over 1,000 keys, no ANALYZE`
    return (["unordered", "ordered"] as const).map((kind): Figure => ({
      id: `cliff.${kind}`,
      group: "cliff",
      name: `first ${kind} claim of 100 (${size})`,
      value: fresh[kind],
      unit: "ms",
      versus: { name: "the same claim after ANALYZE", value: analyzed[kind], ratio: ratio(fresh[kind], analyzed[kind]) },
      target: "≤ 5× (no cliff)"
    }))
  })
