/**
 * Keeps the claim's plan off a cliff. Without statistics (autovacuum off, or a
 * burst that outruns auto-analyze) the planner guesses that few rows are unsent
 * and plans the ordered claim as a scan and sort of every unsent row: seconds
 * per claim on 100k fresh rows instead of milliseconds. So a claim that ran
 * slow makes the store look at the outbox's statistics and, when they are
 * missing or stale, `ANALYZE` it, in the background, one at a time.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Tables from "./tables.js"

/** A claim slower than this makes the store check the statistics. */
export const slowClaimMillis = 200

/** Returns the effect to run after a slow claim: it never fails and never waits for the ANALYZE. */
export const make = (sql: SqlClient.SqlClient, tables: Tables.Tables, scope: Scope.Scope) => {
  let running = false
  // Stale: never analyzed, or more rows changed since than a fifth of the table (at least 1,000).
  const refresh = Effect.gen(function*() {
    const [row] = yield* sql<{ stale: boolean }>`
      SELECT (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL)
             OR s.n_mod_since_analyze > greatest(1000, s.n_live_tup / 5) AS stale
      FROM pg_stat_user_tables s
      WHERE s.relid = to_regclass(quote_ident(${tables.schema}) || '.' || quote_ident(${tables.prefix}))`.withoutTransform
    if (row?.stale !== true) return
    yield* Effect.logInfo("A claim ran slow on stale statistics: analyzing the outbox table").pipe(
      Effect.annotateLogs({ table: tables.outbox })
    )
    yield* sql`ANALYZE ${sql(tables.outbox)}`.withoutTransform
  }).pipe(
    Effect.tapErrorCause((cause) => Effect.logWarning("Could not refresh the outbox's statistics", cause)),
    Effect.ignore, // a missed refresh only leaves the claim as slow as it was
    Effect.ensuring(Effect.sync(() => {
      running = false
    }))
  )
  return Effect.suspend(() => {
    if (running) return Effect.void
    running = true
    return Effect.asVoid(Effect.forkIn(refresh, scope))
  })
}
