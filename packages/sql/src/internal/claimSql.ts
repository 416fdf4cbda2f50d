/**
 * The claim's SQL, shared by the lease claim and the transactional claim:
 * which rows are claimable (and, ordered, which are their key's head), and how
 * a returned row becomes a message.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import type { OutboxMessage } from "@effect-outbox/core/Message"
import type { ClaimOptions, Ordering } from "@effect-outbox/core/OutboxStore"
import type * as Tables from "./tables.js"

export interface MessageRow {
  readonly id: string | number
  readonly topic: string
  readonly key: string | null
  readonly payload: unknown
  readonly headers: Record<string, string> | null
  readonly attempts: number
  readonly created_at: Date
  readonly available_at: Date
}

export const toMessage = (row: MessageRow): OutboxMessage => ({
  id: String(row.id),
  topic: row.topic,
  key: row.key,
  payload: row.payload,
  headers: row.headers ?? {},
  attempts: row.attempts,
  createdAt: row.created_at,
  availableAt: row.available_at
})

export const byId = (a: { readonly id: string }, b: { readonly id: string }) => Number(a.id) - Number(b.id)

export const millis = (duration: Duration.Duration) => Duration.toMillis(duration)

// Whether a row takes part in ordering: keyed, and on an ordered topic.
export const orderedRow = (sql: SqlClient.SqlClient, alias: string, ordering: Ordering) =>
  ordering === "all"
    ? sql`${sql(alias)}.key IS NOT NULL`
    : sql`(${sql(alias)}.key IS NOT NULL AND ${sql(alias)}.topic = ANY(${ordering.topics}::text[]))`

// An ordered claim takes an ordered row only as its key's head: nothing earlier of
// the key unsent (in flight, waiting to retry or pending) and the key not parked.
//
// The last condition alone is exact. The two before it are shortcuts over small
// partial indexes, planned as one hashed set per claim while they are small, so
// the rows queued behind a parked key, or behind a head in flight or waiting for
// its retry, are passed over by a hash lookup instead of a probe of the big
// `(key, id)` index each (a hot or failing key with a deep backlog would
// otherwise slow every claim). A row holding its key (`held_key`, written by the
// ordered claim that leased it) that is not yet due was its key's head when claimed.
// (`r.held_key IS NOT NULL` looks redundant; it lets the hashed form use the partial index.)
export const headsOnly = (sql: SqlClient.SqlClient, tables: Tables.Tables, ordering: Ordering | undefined) => {
  if (ordering === undefined) return sql`true`
  return sql`(NOT ${orderedRow(sql, "o", ordering)} OR (
    NOT EXISTS (SELECT 1 FROM ${sql(tables.deadLetters)} d WHERE d.key = o.key AND d.parks_key)
    AND NOT EXISTS (
      SELECT 1 FROM ${sql(tables.outbox)} r
      WHERE r.held_key = o.key AND r.held_key IS NOT NULL AND r.sent_at IS NULL AND r.available_at > now())
    AND NOT EXISTS (
      SELECT 1 FROM ${sql(tables.outbox)} e
      WHERE e.key = o.key AND e.id < o.id AND e.sent_at IS NULL AND ${orderedRow(sql, "e", ordering)})))`
}

// The claim: one statement. Leasing moves available_at to the lease's end, so
// "claimable" is `available_at <= now()` alone; the CTE keeps the row's
// available_at from before the claim for the returned message.
export const claimStatement = (sql: SqlClient.SqlClient, tables: Tables.Tables, token: string, options: ClaimOptions) => {
  const outbox = sql(tables.outbox)
  const lease = millis(options.leaseFor)
  return sql<MessageRow>`
    WITH picked AS (
      SELECT id, available_at FROM ${outbox} o
      WHERE sent_at IS NULL AND available_at <= now() AND ${headsOnly(sql, tables, options.ordered)}
      ORDER BY ${options.freshFirst === true ? sql`(attempts > 0), id` : sql`id`}
      LIMIT ${options.batchSize}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE ${outbox} o
    SET attempts = o.attempts + 1, locked_by = ${token},
        locked_until = now() + ${lease} * interval '1 millisecond',
        available_at = now() + ${lease} * interval '1 millisecond'${
    options.ordered === undefined
      ? sql``
      : sql`,
        held_key = CASE WHEN ${orderedRow(sql, "o", options.ordered)} THEN o.key END`
  }
    FROM picked WHERE o.id = picked.id
    RETURNING o.id, o.topic, o.key, o.payload, o.headers, o.attempts, o.created_at, picked.available_at`
}

/** RETURNING has no order: FIFO by id, and with `freshFirst` first attempts first, as claimed. */
export const sortClaimed = (messages: Array<OutboxMessage>, freshFirst: boolean | undefined) =>
  messages.sort((a, b) =>
    freshFirst === true && (a.attempts === 1) !== (b.attempts === 1)
      ? (a.attempts === 1 ? -1 : 1)
      : byId(a, b)
  )
