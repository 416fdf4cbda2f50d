/**
 * The Postgres outbox store on `@effect/sql`'s `SqlClient`. Any driver works
 * (`@effect/sql-pg` in production, `@effect-outbox/pglite` embedded): they run
 * the same SQL.
 *
 * - `append` runs in the caller's transaction when there is one (any query in
 *   `sql.withTransaction` in the same fiber joins it), and signals relays with
 *   `pg_notify` in that same transaction: delivered on commit, never on rollback.
 * - `claim` is one statement: `FOR UPDATE SKIP LOCKED` over unsent rows in id
 *   order, leasing them under a fresh token. A lease is `available_at` moved to
 *   the lease's end (plus `locked_by`/`locked_until` for fencing and stats), so
 *   "claimable" is the single index-served condition `available_at <= now()`.
 * - Ordered claims add one condition for keyed rows: no earlier unsent row of the
 *   key (one probe of the `(key, id)` index) and no dead letter parking the key
 *   (with a shortcut for keys whose head is in flight or waiting, see `headsOnly`).
 *   The head is computed, never stored, so no flag can go stale across relays.
 *   For id order to be commit order within a key, `append` takes a per-key
 *   transaction-scoped advisory lock before drawing ids: publishers of one key
 *   queue behind each other's transactions (publishers of other keys do not).
 * - `complete` is one statement for the whole batch (acks, retries, dead
 *   letters, releases as data-modifying CTEs), fenced by the claim's token.
 * - `ackAndClaim` folds a delivered batch's acks into the next claim: one
 *   statement (and one commit) for both.
 * - Time is the database's `now()`, so relays on different hosts agree.
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { compareIds } from "@effect-outbox/core/Message"
import {
  type ClaimOptions,
  type CompleteReport,
  type Ordering,
  OutboxStore,
  type OutboxStoreError,
  type Stats
} from "@effect-outbox/core/OutboxStore"
import { claimStatement, decodeClaimed, type FoldedAcks, millis } from "./internal/claimSql.js"
import { ackRows, completeStatement } from "./internal/completeSql.js"
import * as DeadLetterSql from "./internal/deadLetterSql.js"
import { refail } from "./internal/errors.js"
import * as Statistics from "./internal/statistics.js"
import * as Transactional from "./internal/transactional.js"
import * as Tables from "./internal/tables.js"
import * as Migrations from "./Migrations.js"
import { Notifications } from "./Notifications.js"

/**
 * Options of the SQL store.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends Migrations.Options {
  /** Run migrations when the layer is built. Default true. */
  readonly migrate?: boolean | undefined
  /**
   * Keep acked rows (with `sent_at`) this long instead of deleting them, for
   * audit or replay; a background fiber purges older ones. Default: delete at once.
   */
  readonly retainSent?: Duration.DurationInput | undefined
  /** How often the retention fiber purges. Default 1 minute. */
  readonly purgeInterval?: Duration.DurationInput | undefined
}


class Explained extends Data.TaggedError("Explained")<{ readonly plan: ReadonlyArray<{ "QUERY PLAN": string }> }> {}

/**
 * The query plan of the claim statement, to check that it is served by the
 * `<prefix>_claimable` index (and, ordered, `<prefix>_key_order`) on your data.
 * Plain `EXPLAIN` by default; with `analyze`, the claim runs and is rolled back.
 *
 * @category operations
 * @since 0.1.0
 */
export const explainClaim = Effect.fn("SqlOutboxStore.explainClaim")(function*(
  options: Migrations.Options & {
    readonly batchSize?: number | undefined
    readonly ordered?: Ordering | undefined
    /** Run the claim (`EXPLAIN ANALYZE`, rolled back) to report actual rows and time. */
    readonly analyze?: boolean | undefined
  } = {}
) {
  const sql = yield* SqlClient.SqlClient
  const tables = yield* Tables.resolve(options)
  const [text, params] = claimStatement(sql, tables, "explain", {
    batchSize: options.batchSize ?? 100,
    leaseFor: Duration.seconds(30),
    ordered: options.ordered
  }).compile(true)
  const explain = sql.unsafe<{ "QUERY PLAN": string }>(
    `EXPLAIN ${options.analyze === true ? "(ANALYZE, BUFFERS) " : ""}${text}`,
    params
  ).withoutTransform
  // EXPLAIN ANALYZE really claims: run it in a transaction that a failure always rolls back.
  const rows = yield* (options.analyze === true
    ? sql.withTransaction(Effect.flatMap(explain, (plan) => Effect.fail(new Explained({ plan })))).pipe(
      Effect.catchTag("Explained", ({ plan }) => Effect.succeed(plan))
    )
    : explain).pipe(
    refail("explainClaim")
  )
  return rows.map((row) => row["QUERY PLAN"])
})

// node-pg's pool size when `maxConnections` is not set.
const defaultPoolSize = 10

/**
 * Makes the store over the current `SqlClient`; wake-ups come from `Notifications` when provided.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("SqlOutboxStore.make")(function*(options: Options = {}) {
  const sql = yield* SqlClient.SqlClient
  const tables = yield* Tables.resolve(options)
  if (options.migrate !== false) yield* Migrations.run(options)
  const notifications = yield* Effect.serviceOption(Notifications)
  const outbox = sql(tables.outbox)
  const dead = sql(tables.deadLetters)
  const retainSent = options.retainSent === undefined ? undefined : Duration.decode(options.retainSent)
  const target = { sql, tables, retainSent }
  // Distinguishes this store's claims in `locked_by`, for people reading the table.
  const instance = (yield* Random.nextInt).toString(36).replace("-", "")
  let claims = 0
  const nextToken = () => `${instance}-${++claims}`
  const refreshStatistics = Statistics.make(sql, tables, yield* Effect.scope)

  const complete = (token: string, completions: ReadonlyArray<Parameters<OutboxStore["Type"]["complete"]>[1][number]>) =>
    Effect.gen(function*() {
      if (completions.length === 0) return { completed: [], fenced: [] } satisfies CompleteReport
      const rows = yield* completeStatement(target, token, completions).withoutTransform
      const done = new Set(rows.map((row) => row.id))
      const completed: Array<string> = []
      const fenced: Array<string> = []
      for (const completion of completions) (done.has(completion.id) ? completed : fenced).push(completion.id)
      // A retry comes due later: tell the other relays (and a relay that starts
      // after this one stops), so each can sleep until it instead of the next poll.
      if (completions.some((completion) => completion._tag === "Retry" && done.has(completion.id))) {
        yield* sql`SELECT pg_notify(${tables.channel}, 'retry')`.withoutTransform
      }
      return { completed, fenced } satisfies CompleteReport
    }).pipe(refail("complete"))

  // One claim statement under a fresh token (acking an earlier batch in it when
  // given); a claim that ran slow makes the store check the table's statistics.
  const runClaim = (claimOptions: ClaimOptions, acks?: FoldedAcks) =>
    Effect.gen(function*() {
      const token = nextToken()
      const started = yield* Clock.currentTimeMillis
      const rows = yield* claimStatement(sql, tables, token, claimOptions, acks).withoutTransform
      if ((yield* Clock.currentTimeMillis) - started >= Statistics.slowClaimMillis) yield* refreshStatistics
      return { token, rows }
    })

  // The per-key lock of `append` (see the module comment); the two-int form keeps
  // it apart from single-bigint advisory locks such as leadership's.
  const lockKey = (key: string | Statement.Fragment) =>
    sql`pg_advisory_xact_lock(hashtext(${tables.outbox}), hashtext(${key}))`

  const wakeups: Stream.Stream<void> = Option.match(notifications, {
    onNone: () => Stream.never,
    onSome: (service) => Stream.map(service.listen(tables.channel), () => undefined)
  })

  // Each open transactional batch holds one of the pool's connections; one stays for everything else.
  const pool = yield* Effect.serviceOption(PgClient.PgClient)
  const maxOpen = Option.match(pool, {
    onNone: () => undefined,
    onSome: (client) => (client.config.maxConnections ?? defaultPoolSize) - 1
  })

  const store = OutboxStore.of({
    append: (messages) =>
      Effect.gen(function*() {
        if (messages.length === 0) return []
        const [single] = messages
        if (messages.length === 1 && single !== undefined) {
          // One message (the usual publish): no arrays to build or unnest. A keyed one
          // takes its key's lock first, so its id is drawn after the key's earlier publishers commit.
          const rows = yield* sql<{ id: string }>`
            WITH inserted AS (
              INSERT INTO ${outbox} (topic, key, payload, headers, available_at)
              SELECT ${single.topic}, ${single.key}, ${JSON.stringify(single.payload)}::jsonb,
                     ${JSON.stringify(single.headers)}::jsonb,
                     now() + ${single.delay === undefined ? 0 : millis(single.delay)} * interval '1 millisecond'
              ${single.key === null ? sql`` : sql`FROM (SELECT ${lockKey(single.key)}) AS locked`}
              RETURNING id
            )
            SELECT id FROM inserted, (SELECT pg_notify(${tables.channel}, 'append')) AS wake`.withoutTransform
          return rows.map((row) => row.id)
        }
        const topics = messages.map((m) => m.topic)
        const keys = messages.map((m) => m.key)
        const payloads = messages.map((m) => JSON.stringify(m.payload))
        const headers = messages.map((m) => JSON.stringify(m.headers))
        const delays = messages.map((m) => (m.delay === undefined ? 0 : millis(m.delay)))
        // Keys' locks in sorted order, so two publishers of the same keys cannot deadlock.
        const lockKeys = Array.from(new Set(keys.filter((key): key is string => key !== null))).sort()
        // One statement: the keys' locks, the rows in order, and the commit-time wake-up.
        const rows = yield* sql<{ id: string }>`
          WITH inserted AS (
            INSERT INTO ${outbox} (topic, key, payload, headers, available_at)
            SELECT topic, key, payload::jsonb, headers::jsonb, now() + delay_ms * interval '1 millisecond'
            FROM unnest(${topics}::text[], ${keys}::text[], ${payloads}::text[], ${headers}::text[], ${delays}::float8[])
              WITH ORDINALITY AS t(topic, key, payload, headers, delay_ms, n)
            ${
          lockKeys.length === 0 ? sql`` : sql`, (
              SELECT count(*) FROM (SELECT ${lockKey(sql`k`)} FROM unnest(${lockKeys}::text[]) AS l(k)) AS each_key
            ) AS locked`
        }
            ORDER BY n
            RETURNING id
          )
          SELECT id FROM inserted, (SELECT pg_notify(${tables.channel}, 'append')) AS wake`.withoutTransform
        // Ids are drawn in insertion order, so ascending ids match the input order.
        return rows.map((row) => row.id).sort(compareIds)
      }).pipe(refail("append")),

    claim: (claimOptions) =>
      Effect.map(runClaim(claimOptions), ({ rows, token }) => decodeClaimed(token, rows, claimOptions.freshFirst)).pipe(
        refail("claim")
      ),

    complete,

    ackAndClaim: (acks, claimOptions) =>
      Effect.map(
        runClaim(claimOptions, { ids: acks.ids, rows: ackRows(target, acks.token, acks.ids) }),
        ({ rows, token }) => {
          const acked = new Set(rows[0]?.acked_ids as ReadonlyArray<string> | undefined)
          return {
            acked: {
              completed: acks.ids.filter((id) => acked.has(id)),
              fenced: acks.ids.filter((id) => !acked.has(id))
            },
            // Nothing claimed still returns one row, to carry the acked ids.
            claim: decodeClaimed(token, rows.filter((row) => row.id !== null), claimOptions.freshFirst)
          }
        }
      ).pipe(refail("ackAndClaim")),

    renewLease: (token, ids, leaseFor) =>
      sql<{ id: string }>`
        UPDATE ${outbox}
        SET locked_until = now() + ${millis(leaseFor)} * interval '1 millisecond',
            available_at = now() + ${millis(leaseFor)} * interval '1 millisecond'
        WHERE id = ANY(${ids}::bigint[]) AND locked_by = ${token}
        RETURNING id`.withoutTransform.pipe(
        Effect.map((rows) => rows.map((row) => row.id).sort(compareIds)),
        refail("renewLease")
      ),

    wakeups,
    wakeupsFrom: Option.isSome(notifications) ? `NOTIFY on "${tables.channel}"` : undefined,

    // In the database's time, so the relay's clock need not agree with it.
    nextDue: sql<{ due_in: number | null }>`
      SELECT (extract(epoch FROM min(available_at) - now()) * 1000)::float8 AS due_in
      FROM ${outbox} WHERE sent_at IS NULL AND available_at > now()`.withoutTransform.pipe(
      Effect.map(([row]) =>
        row?.due_in === null || row?.due_in === undefined
          ? Option.none()
          : Option.some(Duration.millis(Math.max(0, row.due_in)))
      ),
      refail("nextDue")
    ),

    unsettled: (ids) =>
      sql<{ id: string }>`
        SELECT id FROM ${outbox} WHERE id = ANY(${ids}::bigint[]) AND sent_at IS NULL ORDER BY id`
        .withoutTransform.pipe(
          Effect.map((rows) => rows.map((row) => row.id)),
          refail("unsettled")
        ),

    deadLetters: DeadLetterSql.make(sql, tables),

    stats: sql<{
      pending: string | number
      in_flight: string | number
      dead: string | number
      parked: string | number
      oldest: number | null
    }>`
      SELECT
        count(*) FILTER (WHERE locked_by IS NULL OR locked_until <= now()) AS pending,
        count(*) FILTER (WHERE locked_by IS NOT NULL AND locked_until > now()) AS in_flight,
        (SELECT count(*) FROM ${dead}) AS dead,
        (SELECT count(*) FROM ${dead} WHERE parks_key) AS parked,
        (extract(epoch FROM now() - min(created_at) FILTER (WHERE locked_by IS NULL OR locked_until <= now())) * 1000)::float8
          AS oldest
      FROM ${outbox} WHERE sent_at IS NULL`.withoutTransform.pipe(
      Effect.map(([row]): Stats => ({
        pending: Number(row?.pending ?? 0),
        inFlight: Number(row?.in_flight ?? 0),
        dead: Number(row?.dead ?? 0),
        parkedKeys: Number(row?.parked ?? 0),
        oldestPendingAgeMillis: row?.oldest === null || row?.oldest === undefined ? null : Math.max(0, Math.round(row.oldest))
      })),
      refail("stats")
    ),

    transactional: Transactional.make({ sql, tables, retainSent, nextToken, maxOpen, refreshStatistics })
  })

  if (retainSent !== undefined) {
    const purgeInterval = Duration.decode(options.purgeInterval ?? Duration.minutes(1))
    yield* sql`DELETE FROM ${outbox} WHERE sent_at < now() - ${millis(retainSent)} * interval '1 millisecond'`
      .withoutTransform.pipe(
        refail("purgeSent"),
        Effect.tapError((error) => Effect.logWarning("Purging retained sent messages failed; will try again", error)),
        Effect.ignore, // the next round tries again
        Effect.repeat(Schedule.spaced(purgeInterval)),
        Effect.forkScoped
      )
  }
  return store
})

/**
 * The store as a layer over `SqlClient` (migrating first unless `migrate: false`).
 * Provide `Notifications` (e.g. `Notifications.layerPg`) for push wake-ups.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<OutboxStore, OutboxStoreError, SqlClient.SqlClient> =>
  Layer.scoped(OutboxStore, make(options))

