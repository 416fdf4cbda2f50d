/**
 * The dead letters' SQL: list, replay, purge, and the parked keys. Letters are
 * selected by a filter (topic, reason, ids, age, limit) in id order.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type * as DeadLetter from "@effect-outbox/core/DeadLetter"
import type { DeadLetters } from "@effect-outbox/core/OutboxStore"
import { millis } from "./claimSql.js"
import { refail } from "./errors.js"
import type * as Tables from "./tables.js"

interface DeadRow {
  readonly id: string
  readonly topic: string
  readonly key: string | null
  readonly payload: unknown
  readonly headers: unknown
  readonly attempts: number
  readonly lost_claims: number
  readonly created_at: unknown
  readonly available_at: unknown
  readonly reason: DeadLetter.Reason
  readonly last_error: string
  readonly dead_at: Date
  readonly parks_key: boolean
}

// The driver gives a Date, or a number for `infinity`: kept as (maybe invalid) dates.
const asDate = (value: unknown): Date =>
  value instanceof Date ? value : new Date(typeof value === "number" || typeof value === "string" ? value : Number.NaN)

// Dead letters are listed as stored: a `Malformed` letter's fields may not hold what their types say.
const toDeadLetter = (row: DeadRow): DeadLetter.DeadLetter => ({
  id: row.id,
  topic: row.topic,
  key: row.key,
  payload: row.payload,
  headers: (row.headers ?? {}) as DeadLetter.DeadLetter["headers"], // as stored; see the comment above
  attempts: row.attempts,
  lostClaims: row.lost_claims,
  createdAt: asDate(row.created_at),
  availableAt: asDate(row.available_at),
  reason: row.reason,
  lastError: row.last_error,
  deadAt: row.dead_at,
  parksKey: row.parks_key
})

/** The dead-letter side of the SQL store. */
export const make = (sql: SqlClient.SqlClient, tables: Tables.Tables): DeadLetters => {
  const outbox = sql(tables.outbox)
  const dead = sql(tables.deadLetters)

  const deadFilter = (filter: DeadLetter.Filter) =>
    sql.and([
      filter.topic === undefined ? sql`true` : sql`topic = ${filter.topic}`,
      filter.reason === undefined ? sql`true` : sql`reason = ${filter.reason}`,
      filter.ids === undefined ? sql`true` : sql`id = ANY(${filter.ids}::bigint[])`,
      filter.olderThan === undefined
        ? sql`true`
        : sql`dead_at <= now() - ${millis(filter.olderThan)} * interval '1 millisecond'`
    ])

  const selectDeadIds = (filter: DeadLetter.Filter) =>
    sql`SELECT id FROM ${dead} WHERE ${deadFilter(filter)} ORDER BY id ${
      filter.limit === undefined ? sql`` : sql`LIMIT ${filter.limit}`
    }`

  return {
    list: (filter) =>
      sql<DeadRow>`SELECT * FROM ${dead} WHERE id IN (${selectDeadIds(filter)}) ORDER BY id`.withoutTransform.pipe(
        Effect.map((rows) => rows.map(toDeadLetter)),
        refail("deadLetters.list")
      ),
    replay: (filter) =>
      sql<{ count: string | number }>`
        WITH moved AS (
          DELETE FROM ${dead} WHERE id IN (${selectDeadIds(filter)})
          RETURNING id, topic, key, payload, headers, created_at
        ),
        restored AS (
          INSERT INTO ${outbox} (id, topic, key, payload, headers, attempts, created_at, available_at)
          SELECT id, topic, key, payload, headers, 0, created_at, now() FROM moved
          RETURNING id
        )
        SELECT count(*) AS count FROM restored, (SELECT pg_notify(${tables.channel}, 'replay')) AS wake`
        .withoutTransform.pipe(
          Effect.map((rows) => Number(rows[0]?.count ?? 0)),
          refail("deadLetters.replay")
        ),
    purge: (filter) =>
      sql<{ count: string | number }>`
        WITH purged AS (DELETE FROM ${dead} WHERE id IN (${selectDeadIds(filter)}) RETURNING 1)
        SELECT count(*) AS count FROM purged`.withoutTransform.pipe(
        Effect.map((rows) => Number(rows[0]?.count ?? 0)),
        refail("deadLetters.purge")
      ),
    parkedKeys: (parkedOptions) =>
      sql<DeadRow & { readonly key: string }>`
        SELECT * FROM ${dead} WHERE parks_key ORDER BY id ${
        parkedOptions?.limit === undefined ? sql`` : sql`LIMIT ${parkedOptions.limit}`
      }`.withoutTransform.pipe(
        Effect.map((rows) =>
          rows.map((row): DeadLetter.ParkedKey => ({
            key: row.key,
            messageId: row.id,
            topic: row.topic,
            reason: row.reason,
            lastError: row.last_error,
            since: row.dead_at
          }))
        ),
        refail("deadLetters.parkedKeys")
      )
  }
}
