/**
 * Read-side queries for people looking at an outbox (the runner's dashboard):
 * a breakdown of what waits, pages of waiting messages and of dead letters,
 * and one message in full. Built to stay fast on a million waiting messages:
 *
 * - pages are **keyset** pages by id (`after` the last id seen), never `OFFSET`;
 * - listings never carry payloads (ask for one message to see its payload);
 * - overview counts stop at `countCap` rows each; past it a count is labelled
 *   `atLeast`, or `estimate` when the planner's row estimate (`reltuples`) is
 *   larger, so the page never scans the whole table every second.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type * as DeadLetter from "@effect-outbox/core/DeadLetter"
import { type OutboxStoreError } from "@effect-outbox/core/OutboxStore"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { refail } from "./internal/errors.js"
import * as InsightSql from "./internal/insightSql.js"
import * as Tables from "./internal/tables.js"
import type * as Migrations from "./Migrations.js"

/**
 * A count, and how far to trust it: `exact`, a lower bound (`atLeast`), or the planner's `estimate`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Count {
  readonly value: number
  readonly kind: "exact" | "atLeast" | "estimate"
}

/**
 * What waits in the outbox and what died.
 *
 * @category models
 * @since 0.1.0
 */
export interface Overview {
  /** Not leased: due now, or waiting for a delay or retry. */
  readonly pending: Count
  /** Claimable now. */
  readonly dueNow: Count
  /** Under an unexpired lease. */
  readonly inFlight: Count
  /** Pending after at least one failed attempt, not yet due again. */
  readonly waitingForRetry: Count
  readonly dead: Count
  readonly parkedKeys: Count
  /** Age of the oldest pending message, or null when nothing is pending. */
  readonly oldestPendingAgeMillis: number | null
}

/**
 * A waiting message's state: claimable, leased, waiting for a retry, or delayed (never tried yet).
 *
 * @category models
 * @since 0.1.0
 */
export type WaitingState = "due" | "inFlight" | "retrying" | "delayed"

/**
 * One waiting message, without its payload.
 *
 * @category models
 * @since 0.1.0
 */
export interface WaitingMessage {
  readonly id: string
  readonly topic: string
  readonly key: string | null
  readonly attempts: number
  readonly state: WaitingState
  readonly createdAt: Date
  readonly availableAt: Date
  readonly lastError: string | null
}

/**
 * One dead letter in a listing: no payload, the last error cut to `errorPreview` characters.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetterRow {
  readonly id: string
  readonly topic: string
  readonly key: string | null
  readonly attempts: number
  readonly reason: DeadLetter.Reason
  readonly lastError: string
  readonly createdAt: Date
  readonly deadAt: Date
  readonly parksKey: boolean
}

/**
 * A message in full (waiting or dead): payload and headers included.
 *
 * @category models
 * @since 0.1.0
 */
export interface MessageDetail {
  readonly id: string
  readonly topic: string
  readonly key: string | null
  readonly payload: unknown
  readonly headers: Record<string, string>
  readonly attempts: number
  readonly createdAt: Date
  readonly availableAt: Date
  readonly lastError: string | null
  /** Dead letters only. */
  readonly reason?: DeadLetter.Reason | undefined
  readonly deadAt?: Date | undefined
  readonly parksKey?: boolean | undefined
}

/**
 * A page: the rows, and the id to pass as `after` for the next page (null on the last).
 *
 * @category models
 * @since 0.1.0
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next: string | null
}

/**
 * Selects waiting messages.
 *
 * @category models
 * @since 0.1.0
 */
export interface WaitingFilter {
  readonly topic?: string | undefined
  readonly key?: string | undefined
  readonly state?: WaitingState | undefined
  readonly after?: string | undefined
  readonly limit: number
}

/**
 * Selects dead letters; every given field must match.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetterFilter {
  readonly topic?: string | undefined
  readonly reason?: DeadLetter.Reason | undefined
  readonly key?: string | undefined
  /** Text the last error contains (case-insensitive). */
  readonly error?: string | undefined
  /** Died at least this long ago. */
  readonly olderThan?: Duration.Duration | undefined
  /** Died at most this long ago. */
  readonly newerThan?: Duration.Duration | undefined
  /** Only ids above this (keyset paging). */
  readonly after?: string | undefined
  /** Only ids up to this (what a dry run counted). */
  readonly upTo?: string | undefined
}

/**
 * Insight options.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends Migrations.Options {
  /** Where overview counts stop counting. Default 100,000. */
  readonly countCap?: number | undefined
  /** How long one overview answers every caller. Default 2 seconds. */
  readonly overviewTtl?: Duration.DurationInput | undefined
}

/**
 * Characters of the last error a dead-letter listing carries.
 *
 * @category constants
 * @since 0.1.0
 */
export const errorPreview = 300

/**
 * The read-side queries of one outbox.
 *
 * @category tags
 * @since 0.1.0
 */
export class OutboxInsight extends Context.Tag("@effect-outbox/sql/OutboxInsight")<OutboxInsight, {
  readonly overview: Effect.Effect<Overview, OutboxStoreError>
  /** Age of the oldest pending message (one index probe), for a lag series. */
  readonly oldestPendingAgeMillis: Effect.Effect<number | null, OutboxStoreError>
  readonly waiting: (filter: WaitingFilter) => Effect.Effect<Page<WaitingMessage>, OutboxStoreError>
  readonly message: (id: string) => Effect.Effect<MessageDetail | null, OutboxStoreError>
  readonly deadLetters: (
    filter: DeadLetterFilter & { readonly limit: number }
  ) => Effect.Effect<Page<DeadLetterRow>, OutboxStoreError>
  readonly deadLetter: (id: string) => Effect.Effect<MessageDetail | null, OutboxStoreError>
  /** How many dead letters match (exact), and the highest matching id (pass it as `upTo` to act on exactly those). */
  readonly countDeadLetters: (
    filter: DeadLetterFilter
  ) => Effect.Effect<{ readonly matched: number; readonly maxId: string | null }, OutboxStoreError>
  /** The ids of matching dead letters, a keyset page at a time (to act on them through the store). */
  readonly deadLetterIds: (
    filter: DeadLetterFilter & { readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<string>, OutboxStoreError>
}>() {}

/**
 * Makes the queries for the outbox under `options`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const tables = yield* Tables.resolve(options)
    const sql = yield* SqlClient.SqlClient
    const { dead, deadWhere, outbox, overview, pendingCondition, stateOf } = InsightSql.make(
      sql,
      tables,
      options.countCap ?? 100_000
    )
    // Every open dashboard polls the overview: one query per `overviewTtl` serves them all.
    const cachedOverview = yield* Effect.cachedWithTTL(overview, options.overviewTtl ?? Duration.seconds(2))

    return OutboxInsight.of({
      overview: cachedOverview,
      oldestPendingAgeMillis: sql<{ age: number }>`SELECT (extract(epoch FROM now() - created_at) * 1000)::float8 AS age
          FROM ${outbox} WHERE sent_at IS NULL AND ${pendingCondition} ORDER BY id LIMIT 1`.withoutTransform.pipe(
        Effect.map(([row]) => (row === undefined ? null : Math.max(0, Math.round(row.age)))),
        refail("oldest pending age")
      ),
      waiting: (filter) => {
        const clauses: Array<Statement.Fragment> = [sql`sent_at IS NULL`]
        if (filter.topic !== undefined) clauses.push(sql`topic = ${filter.topic}`)
        if (filter.key !== undefined) clauses.push(sql`key = ${filter.key}`)
        if (filter.state !== undefined) clauses.push(sql`${stateOf} = ${filter.state}`)
        if (InsightSql.isId(filter.after)) clauses.push(sql`id > ${filter.after}::bigint`)
        return sql<InsightSql.WaitingRow>`SELECT id, topic, key, attempts, created_at, available_at, last_error, ${stateOf} AS state
            FROM ${outbox} WHERE ${sql.and(clauses)} ORDER BY id LIMIT ${filter.limit + 1}`.withoutTransform.pipe(
          Effect.map((rows) => InsightSql.page(rows.map(InsightSql.waitingMessage), filter.limit)),
          refail("list waiting messages")
        )
      },
      message: (id) =>
        InsightSql.isId(id)
          ? sql<InsightSql.DetailRow>`SELECT id, topic, key, payload, headers, attempts, created_at, available_at, last_error
              FROM ${outbox} WHERE id = ${id}::bigint AND sent_at IS NULL`.withoutTransform.pipe(
              Effect.map(([row]) => (row === undefined ? null : InsightSql.detail(row))),
              refail("read message")
            )
          : Effect.succeed(null),
      deadLetters: (filter) =>
        sql<InsightSql.DeadRow>`SELECT id, topic, key, attempts, reason, left(last_error, ${errorPreview}) AS last_error,
            created_at, dead_at, parks_key
          FROM ${dead} WHERE ${deadWhere(filter)} ORDER BY id LIMIT ${filter.limit + 1}`.withoutTransform.pipe(
          Effect.map((rows) => InsightSql.page(rows.map(InsightSql.deadLetterRow), filter.limit)),
          refail("list dead letters")
        ),
      deadLetter: (id) =>
        InsightSql.isId(id)
          ? sql<InsightSql.DetailRow>`SELECT * FROM ${dead} WHERE id = ${id}::bigint`.withoutTransform.pipe(
            Effect.map(([row]) => (row === undefined ? null : InsightSql.detail(row))),
            refail("read dead letter")
          )
          : Effect.succeed(null),
      countDeadLetters: (filter) =>
        sql<{ matched: string; max_id: string | null }>`SELECT count(*) AS matched, max(id)::text AS max_id
          FROM ${dead} WHERE ${deadWhere(filter)}`.withoutTransform.pipe(
          Effect.map(([row]) => ({ matched: Number(row?.matched ?? 0), maxId: row?.max_id ?? null })),
          refail("count dead letters")
        ),
      deadLetterIds: (filter) =>
        sql<{ id: string }>`SELECT id::text AS id FROM ${dead} WHERE ${deadWhere(filter)} ORDER BY id LIMIT ${filter.limit}`
          .withoutTransform.pipe(Effect.map((rows) => rows.map((row) => row.id)), refail("list dead letter ids"))
    })
  })

/**
 * The queries as a layer, on the `SqlClient` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<OutboxInsight, OutboxStoreError, SqlClient.SqlClient> =>
  Layer.effect(OutboxInsight, make(options))
