/**
 * An `@effect/sql` connection over the PGlite session, and the one place where
 * what PGlite throws becomes a `SqlError`.
 *
 * @internal
 */
import type { PGlite, Results, RowMode } from "@electric-sql/pglite"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * How a connection reaches the single session: by taking the session lock
 * around each statement, or as-is when its holder (a transaction) already has it.
 */
export type Guard = <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>

type TransformRows = (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined

/** A connection that also commits, checking that Postgres really committed. */
export interface PgliteConnection extends Connection {
  readonly commit: Effect.Effect<void, SqlError>
}

/** Makes a connection whose every call into PGlite goes through `guard`. */
export const makeConnection = (db: PGlite, guard: Guard): PgliteConnection => {
  // Uninterruptible: the lock must not be released while PGlite still runs the
  // statement, or the next holder's statement would queue behind it inside
  // PGlite. A PGlite statement runs on this thread and cannot be cancelled anyway.
  const attempt = <A>(evaluate: () => Promise<A>): Effect.Effect<A, SqlError> =>
    guard(Effect.uninterruptible(Effect.tryPromise({
      try: evaluate,
      catch: (cause) => toSqlError("Failed to execute statement", cause)
    })))

  // Without parameters a statement goes through the simple query protocol, as
  // node-pg does: one call into PGlite instead of five, and a string holding
  // several statements (a migration) runs, returning one row list per statement.
  const run = (
    sql: string,
    params: ReadonlyArray<unknown>,
    rowMode: RowMode
  ): Effect.Effect<Results | ReadonlyArray<Results>, SqlError> =>
    params.length === 0
      ? Effect.map(attempt(() => db.exec(sql, { rowMode })), single)
      : attempt(() => db.query(sql, [...params], { rowMode }))

  const rows = <A>(
    sql: string,
    params: ReadonlyArray<unknown>,
    rowMode: RowMode
  ): Effect.Effect<ReadonlyArray<A>, SqlError> =>
    Effect.map(run(sql, params, rowMode), (result) => {
      const rows: ReadonlyArray<unknown> = isResults(result) ? result.rows : result.map((_) => _.rows)
      // PGlite types every row as an `any` record whatever the row mode; this
      // is the boundary where rows get the shape the row mode gives them.
      return rows as ReadonlyArray<A>
    })

  const execute = (sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) =>
    transformRows === undefined
      ? rows<object>(sql, params, "object")
      : Effect.map(rows<object>(sql, params, "object"), transformRows)

  return {
    execute,
    executeUnprepared: execute,
    executeRaw: (sql, params) => run(sql, params, "object"),
    executeValues: (sql, params) => rows<ReadonlyArray<unknown>>(sql, params, "array"),
    // A chunked read: the statement runs once and its rows are emitted as a
    // stream, so the session is not held while the stream is consumed.
    executeStream: (sql, params, transformRows) => Stream.fromIterableEffect(execute(sql, params, transformRows)),
    commit: Effect.flatMap(
      attempt(() => db.exec("COMMIT")),
      (results) =>
        results.some((_) => _.command === "ROLLBACK")
          // Postgres answers COMMIT with ROLLBACK when a statement in the
          // transaction failed and the failure was caught: nothing was written,
          // so this must not look like success.
          ? Effect.fail(
            new SqlError({
              message: "COMMIT rolled the transaction back: a statement in it failed earlier"
            })
          )
          : Effect.void
    )
  }
}

const single = (results: ReadonlyArray<Results>): Results | ReadonlyArray<Results> => {
  const [first] = results
  return results.length === 1 && first !== undefined ? first : results
}

const isResults = (result: Results | ReadonlyArray<Results>): result is Results => "rows" in result

/**
 * Wraps what PGlite threw. PGlite attaches a failed statement's bound values to
 * its error (`params`); they are dropped so that no value (a token, a password)
 * reaches a log through the cause. Postgres's own message and SQLSTATE are kept:
 * they say what went wrong, and the cause keeps `code`, `detail`, `constraint`…
 * as node-pg's `DatabaseError` does.
 */
export const toSqlError = (action: string, cause: unknown): SqlError => {
  if (typeof cause === "object" && cause !== null) {
    Reflect.deleteProperty(cause, "params")
    Reflect.deleteProperty(cause, "queryOptions")
  }
  return new SqlError({ cause, message: `${action}: ${describe(cause)}` })
}

const describe = (cause: unknown): string => {
  if (!(cause instanceof Error)) return String(cause)
  const code = "code" in cause && typeof cause.code === "string" && cause.code !== "" ? ` (SQLSTATE ${cause.code})` : ""
  return `${cause.message}${code}`
}
