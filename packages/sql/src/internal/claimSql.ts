/**
 * The claim's SQL, shared by the lease claim and the transactional claim:
 * which rows are claimable (and, ordered, which are their key's head), and how
 * a returned row becomes a message.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Duration from "effect/Duration"
import { compareIds, type OutboxMessage } from "@effect-outbox/core/Message"
import * as MessageRow from "@effect-outbox/core/MessageRow"
import type { Claim, ClaimOptions, Ordering } from "@effect-outbox/core/OutboxStore"
import * as Either from "effect/Either"
import type * as Tables from "./tables.js"

/** A row as the driver returns it: nothing is trusted until `MessageRow.decode` says so. */
export interface RawRow {
  readonly id: string | null
  readonly [column: string]: unknown
}

export const maxCount = MessageRow.maxCount

export const byId = (a: { readonly id: string }, b: { readonly id: string }) => compareIds(a.id, b.id)

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
// (`r.held_key IS NOT NULL` looks redundant; it lets the hashed form use the partial index.
// `+ interval '0 seconds'` keeps the planner off the `_due` index, which covers every
// waiting and in-flight row, and on the small held-keys one.)
export const headsOnly = (sql: SqlClient.SqlClient, tables: Tables.Tables, ordering: Ordering | undefined) => {
  if (ordering === undefined) return sql`true`
  return sql`(NOT ${orderedRow(sql, "o", ordering)} OR (
    NOT EXISTS (SELECT 1 FROM ${sql(tables.deadLetters)} d WHERE d.key = o.key AND d.parks_key)
    AND NOT EXISTS (
      SELECT 1 FROM ${sql(tables.outbox)} r
      WHERE r.held_key = o.key AND r.held_key IS NOT NULL AND r.sent_at IS NULL
        AND r.available_at + interval '0 seconds' > now())
    AND NOT EXISTS (
      SELECT 1 FROM ${sql(tables.outbox)} e
      WHERE e.key = o.key AND e.id < o.id AND e.sent_at IS NULL AND ${orderedRow(sql, "e", ordering)})))`
}

/** Acks of an earlier claim folded into a claim: the ids, and the statement that acks them. */
export interface FoldedAcks {
  readonly ids: ReadonlyArray<string>
  readonly rows: Statement.Statement<{ readonly id: string }>
}

// The claim: one statement. Leasing moves available_at to the lease's end, so
// "claimable" is `available_at <= now()` alone; the CTE keeps the row's
// available_at from before the claim for the returned message.
//
// With folded acks, the same statement first acks the earlier batch (a
// data-modifying CTE) and returns the acked ids in `acked_ids` of the first
// row (a row of nulls when nothing was claimed): once, as parsing them costs. The claim sees the statement's
// snapshot, where the acked rows still exist: they are leased (not claimable)
// and excluded by id besides, so a lease that just ran out cannot hand them out again.
export const claimStatement = (
  sql: SqlClient.SqlClient,
  tables: Tables.Tables,
  token: string,
  options: ClaimOptions,
  acks?: FoldedAcks
) => {
  const outbox = sql(tables.outbox)
  const lease = millis(options.leaseFor)
  const claim = sql`
    picked AS (
      SELECT id, available_at FROM ${outbox} o
      WHERE sent_at IS NULL AND available_at <= now() AND ${headsOnly(sql, tables, options.ordered)}${
    acks === undefined ? sql`` : sql` AND o.id <> ALL(${acks.ids}::bigint[])`
  }
      ORDER BY ${options.freshFirst === true ? sql`(attempts > 0), id` : sql`id`}
      LIMIT ${options.batchSize}
      FOR UPDATE SKIP LOCKED
    ),
    claimed AS (
      UPDATE ${outbox} o
      SET locked_by = ${token},
          -- Still locked: its last lease expired unsettled (a crash), a lost claim, not a failed send.
          lost_claims = CASE WHEN o.locked_by IS NULL THEN o.lost_claims ELSE LEAST(o.lost_claims, ${maxCount - 1}) + 1 END,
          locked_until = now() + ${lease} * interval '1 millisecond',
          available_at = now() + ${lease} * interval '1 millisecond'${
    options.ordered === undefined
      ? sql``
      : sql`,
          held_key = CASE WHEN ${orderedRow(sql, "o", options.ordered)} THEN o.key END`
  }
      FROM picked WHERE o.id = picked.id
      RETURNING o.id, o.topic, o.key, o.payload, o.headers, o.attempts, o.lost_claims,
        ${epochMillis(sql, "o.created_at")} AS created_at, ${epochMillis(sql, "picked.available_at")} AS available_at
    )`
  return acks === undefined
    ? sql<RawRow>`WITH ${claim} SELECT * FROM claimed`
    : sql<RawRow>`WITH acked AS (${acks.rows}), ${claim}
      SELECT c.*, CASE WHEN c.n IS NULL OR c.n = 1 THEN a.acked_ids END AS acked_ids
      FROM (SELECT coalesce(array_agg(id), '{}') AS acked_ids FROM acked) a
      LEFT JOIN (SELECT claimed.*, row_number() OVER () AS n FROM claimed) c ON true`
}

/**
 * A timestamp column as epoch milliseconds: a float is far cheaper for the
 * driver to parse than a timestamp (which was a tenth of a large batch's
 * time); `decodeClaimed` turns it back into a `Date`.
 */
export const epochMillis = (sql: SqlClient.SqlClient, column: string) =>
  sql.unsafe(`(extract(epoch FROM ${column}) * 1000)::float8`)

// Epoch milliseconds back to a date; a value that is not a finite number (a
// stored `infinity`) is left as it is, for `MessageRow` to refuse by name.
const asDate = (millis: unknown): unknown =>
  typeof millis === "number" && Number.isFinite(millis) ? new Date(millis) : millis

/**
 * Decodes claimed rows: the ones that decode are the claim's messages, FIFO by
 * id (RETURNING has no order; with `freshFirst` first attempts first, as
 * claimed); the rest come back as `malformed`, for the relay to dead-letter alone.
 */
export const decodeClaimed = (token: string, rows: ReadonlyArray<RawRow>, freshFirst: boolean | undefined): Claim => {
  const messages: Array<OutboxMessage> = []
  const malformed: Array<MessageRow.Malformed> = []
  for (const row of rows) {
    const dated = { ...row, created_at: asDate(row.created_at), available_at: asDate(row.available_at) }
    Either.match(MessageRow.decode(row.id ?? "", dated), {
      onLeft: (bad) => malformed.push(bad),
      onRight: (message) => messages.push(message)
    })
  }
  messages.sort((a, b) =>
    freshFirst === true && (a.attempts === 1) !== (b.attempts === 1)
      ? (a.attempts === 1 ? -1 : 1)
      : byId(a, b)
  )
  return malformed.length === 0 ? { token, messages } : { token, messages, malformed }
}
