/**
 * Plan cliffs: the claim on a burst of freshly inserted rows that the planner
 * has no statistics for (no ANALYZE yet; autovacuum off, or outrun), against
 * the same claim once the table is analyzed. Both claim kinds, through the store.
 */
import { SqlOutboxStore } from "@effect-outbox/sql"
import { Duration, Effect } from "effect"
import { type Figure, median, now, query, ratio, seed, withSchema } from "./harness.js"
import { migrate, pgLayer, quiet } from "./library.js"

/** ms of the first claim of 100 through a store, and the median of the ten after it. */
const timeClaims = (schema: string, ordered: boolean) =>
  Effect.gen(function*() {
    const store = yield* SqlOutboxStore.make({ schema, migrate: false })
    const times: Array<number> = []
    for (let i = 0; i < 11; i++) {
      const started = now()
      const claim = yield* store.claim({ batchSize: 100, leaseFor: Duration.seconds(30), ordered: ordered ? "all" : undefined })
      if (claim.messages.length !== 100) return yield* Effect.dieMessage(`claimed ${claim.messages.length}, not 100`)
      times.push(now() - started)
    }
    return { first: times[0] ?? Number.NaN, after: median(times.slice(1)) }
  }).pipe(Effect.scoped, Effect.provide(pgLayer(2)), quiet, Effect.runPromise)

export const run = (quick: boolean): Promise<Array<Figure>> =>
  withSchema("cliff", async (schema) => {
    const rows = quick ? 30_000 : 100_000
    const fresh = { unordered: { first: 0, after: 0 }, ordered: { first: 0, after: 0 } }
    const analyzed = { unordered: { first: 0, after: 0 }, ordered: { first: 0, after: 0 } }
    for (const kind of ["unordered", "ordered"] as const) {
      // The floor: the same claims on the same rows, analyzed before the first claim.
      for (const [result, analyze] of [[fresh, false], [analyzed, true]] as const) {
        await query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
        await Effect.runPromise(migrate(schema))
        await seed(schema, rows, { keys: 10_000, spread: "round-robin" }, analyze)
        result[kind] = await timeClaims(schema, kind === "ordered")
      }
    }
    const size = `${rows / 1000}k rows just inserted over 10,000 keys, no ANALYZE`
    return (["unordered", "ordered"] as const).flatMap((kind): Array<Figure> => [
      {
        id: `cliff.${kind}.first`,
        group: "cliff",
        name: `first ${kind} claim of 100 (${size})`,
        value: fresh[kind].first,
        unit: "ms",
        versus: { name: "after ANALYZE", value: analyzed[kind].after, ratio: ratio(fresh[kind].first, analyzed[kind].after) },
        target: "≤ 5× (no cliff)"
      },
      {
        id: `cliff.${kind}.next`,
        group: "cliff",
        name: `the next ten ${kind} claims, median (the store analyzes after a slow claim)`,
        value: fresh[kind].after,
        unit: "ms",
        versus: { name: "after ANALYZE", value: analyzed[kind].after, ratio: ratio(fresh[kind].after, analyzed[kind].after) },
        target: "≤ 5× (no cliff)"
      }
    ])
  })
