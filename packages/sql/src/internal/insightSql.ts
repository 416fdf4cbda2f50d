/**
 * The SQL behind `OutboxInsight`: the overview's capped counts, the clauses
 * that select waiting messages by state and dead letters by filter, the rows
 * the listings read, and how those rows become the answers the queries give.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type * as DeadLetter from "@effect-outbox/core/DeadLetter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type {
  Count,
  DeadLetterFilter,
  DeadLetterRow,
  MessageDetail,
  Overview,
  Page,
  WaitingMessage,
  WaitingState
} from "../OutboxInsight.js"
import { refail } from "./errors.js"
import type * as Tables from "./tables.js"

/** An id as the queries accept it: digits only, so it casts to `bigint` safely. */
export const isId = (text: string | undefined): text is string => text !== undefined && /^\d{1,19}$/.test(text)
const millis = (duration: Duration.Duration) => Math.round(Duration.toMillis(duration))

/** The tables, the shared clauses and the overview query of one outbox, counts capped at `cap`. */
export const make = (sql: SqlClient.SqlClient, tables: Tables.Tables, cap: number) => {
  const outbox = sql(tables.outbox)
  const dead = sql(tables.deadLetters)
  const pendingCondition = sql`(locked_by IS NULL OR locked_until <= now())`
  const capped = (from: Statement.Identifier, where: Statement.Fragment) =>
    sql`(SELECT count(*) FROM (SELECT 1 FROM ${from} WHERE ${where} LIMIT ${cap + 1}) AS capped)`

  const count = (value: string | number, estimate: number | null): Count => {
    const n = Number(value)
    if (n <= cap) return { value: n, kind: "exact" }
    return estimate !== null && estimate > cap ? { value: Math.round(estimate), kind: "estimate" } : { value: cap, kind: "atLeast" }
  }

  const stateOf = sql`CASE WHEN locked_by IS NOT NULL AND locked_until > now() THEN 'inFlight'
    WHEN available_at <= now() THEN 'due' WHEN attempts > 0 THEN 'retrying' ELSE 'delayed' END`

  const deadWhere = (filter: DeadLetterFilter) => {
    const clauses: Array<Statement.Fragment> = [sql`true`]
    if (filter.topic !== undefined) clauses.push(sql`topic = ${filter.topic}`)
    if (filter.reason !== undefined) clauses.push(sql`reason = ${filter.reason}`)
    if (filter.key !== undefined) clauses.push(sql`key = ${filter.key}`)
    if (filter.error !== undefined) {
      clauses.push(sql`strpos(lower(last_error), lower(${filter.error})) > 0`)
    }
    if (filter.olderThan !== undefined) {
      clauses.push(sql`dead_at <= now() - ${millis(filter.olderThan)} * interval '1 millisecond'`)
    }
    if (filter.newerThan !== undefined) {
      clauses.push(sql`dead_at >= now() - ${millis(filter.newerThan)} * interval '1 millisecond'`)
    }
    if (isId(filter.after)) clauses.push(sql`id > ${filter.after}::bigint`)
    if (isId(filter.upTo)) clauses.push(sql`id <= ${filter.upTo}::bigint`)
    return sql.and(clauses)
  }

  const overview = sql<{
      pending: string
      due_now: string
      in_flight: string
      retrying: string
      dead: string
      parked: string
      oldest: number | null
      outbox_estimate: number | null
      dead_estimate: number | null
    }>`SELECT
        ${capped(outbox, sql`sent_at IS NULL AND ${pendingCondition}`)} AS pending,
        ${capped(outbox, sql`sent_at IS NULL AND available_at <= now()`)} AS due_now,
        ${capped(outbox, sql`sent_at IS NULL AND locked_by IS NOT NULL AND locked_until > now()`)} AS in_flight,
        ${capped(outbox, sql`sent_at IS NULL AND ${pendingCondition} AND attempts > 0 AND available_at > now()`)} AS retrying,
        ${capped(dead, sql`true`)} AS dead,
        ${capped(dead, sql`parks_key`)} AS parked,
        (SELECT (extract(epoch FROM now() - created_at) * 1000)::float8 FROM ${outbox}
          WHERE sent_at IS NULL AND ${pendingCondition} ORDER BY id LIMIT 1) AS oldest,
        (SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass(${tables.outbox})) AS outbox_estimate,
        (SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass(${tables.deadLetters})) AS dead_estimate`
      .withoutTransform.pipe(
        Effect.map(([row]): Overview => ({
          pending: count(row?.pending ?? 0, row?.outbox_estimate ?? null),
          dueNow: count(row?.due_now ?? 0, null),
          inFlight: count(row?.in_flight ?? 0, null),
          waitingForRetry: count(row?.retrying ?? 0, null),
          dead: count(row?.dead ?? 0, row?.dead_estimate ?? null),
          parkedKeys: count(row?.parked ?? 0, null),
          oldestPendingAgeMillis: row?.oldest === null || row?.oldest === undefined ? null : Math.max(0, Math.round(row.oldest))
        })),
        refail("overview")
      )

  return { outbox, dead, pendingCondition, stateOf, deadWhere, overview }
}

// The columns every listing and detail reads, waiting or dead.
interface ListedRow {
  readonly id: string | number
  readonly topic: string
  readonly key: string | null
  readonly attempts: number
  readonly created_at: Date
}

// The fields every listing and detail answers with, from the shared columns.
const listed = (row: ListedRow) => ({
  id: String(row.id),
  topic: row.topic,
  key: row.key,
  attempts: row.attempts,
  createdAt: row.created_at
})

/** A waiting message as the listing reads it. */
export interface WaitingRow extends ListedRow {
  readonly available_at: Date
  readonly last_error: string | null
  readonly state: WaitingState
}

/** A dead letter as the listing reads it. */
export interface DeadRow extends ListedRow {
  readonly reason: DeadLetter.Reason
  readonly last_error: string
  readonly dead_at: Date
  readonly parks_key: boolean
}

/** A message in full, waiting (no dead-letter columns) or dead. */
export interface DetailRow extends ListedRow {
  readonly payload: unknown
  readonly headers: Record<string, string> | null
  readonly available_at: Date
  readonly last_error: string | null
  readonly reason?: DeadLetter.Reason
  readonly dead_at?: Date
  readonly parks_key?: boolean
}

export const waitingMessage = (row: WaitingRow): WaitingMessage => ({
  ...listed(row),
  state: row.state,
  availableAt: row.available_at,
  lastError: row.last_error
})

export const deadLetterRow = (row: DeadRow): DeadLetterRow =>
  Object.assign(listed(row), { reason: row.reason, lastError: row.last_error, deadAt: row.dead_at, parksKey: row.parks_key })

export const detail = (row: DetailRow): MessageDetail => ({
  ...listed(row),
  payload: row.payload,
  headers: row.headers ?? {},
  availableAt: row.available_at,
  lastError: row.last_error,
  ...(row.reason === undefined ? {} : { reason: row.reason, deadAt: row.dead_at, parksKey: row.parks_key })
})

/** Fetched `limit + 1` rows: the first `limit`, and the last one's id as `next` when there were more. */
export const page = <A extends { readonly id: string }>(rows: ReadonlyArray<A>, limit: number): Page<A> => {
  const items = rows.slice(0, limit)
  return { items, next: rows.length > limit ? (items[items.length - 1]?.id ?? null) : null }
}
