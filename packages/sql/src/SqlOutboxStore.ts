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
 * - Time is the database's `now()`, so relays on different hosts agree.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as DeadLetter from "@effect-outbox/core/DeadLetter"
import type { OutboxMessage } from "@effect-outbox/core/Message"
import * as MessageRow from "@effect-outbox/core/MessageRow"
import {
  type ClaimOptions,
  type CompleteReport,
  type Ordering,
  OutboxStore,
  type OutboxStoreError,
  type Stats
} from "@effect-outbox/core/OutboxStore"
import { refail } from "./internal/errors.js"
import * as Tables from "./internal/tables.js"
import * as Migrations from "./Migrations.js"
import { Notifications } from "./Notifications.js"

/** Options of the SQL store. */
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

// A row as the driver returns it: nothing is trusted until `MessageRow.decode` says so.
interface RawRow {
  readonly id: string | number
  readonly [column: string]: unknown
}

interface DeadRow {
  readonly id: string | number
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
  id: String(row.id),
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

const maxCount = MessageRow.maxCount

const byId = (a: { readonly id: string }, b: { readonly id: string }) => Number(a.id) - Number(b.id)

const millis = (duration: Duration.Duration) => Duration.toMillis(duration)

// Whether a row takes part in ordering: keyed, and on an ordered topic.
const orderedRow = (sql: SqlClient.SqlClient, alias: string, ordering: Ordering) =>
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
const headsOnly = (sql: SqlClient.SqlClient, tables: Tables.Tables, ordering: Ordering | undefined) => {
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

// The claim: one statement. Leasing moves available_at to the lease's end, so
// "claimable" is `available_at <= now()` alone; the CTE keeps the row's
// available_at from before the claim for the returned message.
const claimStatement = (sql: SqlClient.SqlClient, tables: Tables.Tables, token: string, options: ClaimOptions) => {
  const outbox = sql(tables.outbox)
  const lease = millis(options.leaseFor)
  return sql<RawRow>`
    WITH picked AS (
      SELECT id, available_at FROM ${outbox} o
      WHERE sent_at IS NULL AND available_at <= now() AND ${headsOnly(sql, tables, options.ordered)}
      ORDER BY ${options.freshFirst === true ? sql`(attempts > 0), id` : sql`id`}
      LIMIT ${options.batchSize}
      FOR UPDATE SKIP LOCKED
    )
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
    RETURNING o.id, o.topic, o.key, o.payload, o.headers, o.attempts, o.lost_claims, o.created_at, picked.available_at`
}

class Explained extends Data.TaggedError("Explained")<{ readonly plan: ReadonlyArray<{ "QUERY PLAN": string }> }> {}

/**
 * The query plan of the claim statement, to check that it is served by the
 * `<prefix>_claimable` index (and, ordered, `<prefix>_key_order`) on your data.
 * Plain `EXPLAIN` by default; with `analyze`, the claim runs and is rolled back.
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

/** Makes the store over the current `SqlClient`; wake-ups come from `Notifications` when provided. */
export const make = Effect.fn("SqlOutboxStore.make")(function*(options: Options = {}) {
  const sql = yield* SqlClient.SqlClient
  const tables = yield* Tables.resolve(options)
  if (options.migrate !== false) yield* Migrations.run(options)
  const notifications = yield* Effect.serviceOption(Notifications)
  const outbox = sql(tables.outbox)
  const dead = sql(tables.deadLetters)
  const retainSent = options.retainSent === undefined ? undefined : Duration.decode(options.retainSent)
  // Distinguishes this store's claims in `locked_by`, for people reading the table.
  const instance = (yield* Random.nextInt).toString(36).replace("-", "")
  let claims = 0

  const deadFilter = (filter: DeadLetter.Filter) =>
    sql.and([
      filter.topic === undefined ? sql`true` : sql`topic = ${filter.topic}`,
      filter.reason === undefined ? sql`true` : sql`reason = ${filter.reason}`,
      filter.ids === undefined ? sql`true` : sql`id = ANY(${filter.ids.map(Number)}::bigint[])`,
      filter.olderThan === undefined
        ? sql`true`
        : sql`dead_at <= now() - ${millis(filter.olderThan)} * interval '1 millisecond'`
    ])

  const selectDeadIds = (filter: DeadLetter.Filter) =>
    sql`SELECT id FROM ${dead} WHERE ${deadFilter(filter)} ORDER BY id ${
      filter.limit === undefined ? sql`` : sql`LIMIT ${filter.limit}`
    }`

  const complete = (token: string, completions: ReadonlyArray<Parameters<OutboxStore["Type"]["complete"]>[1][number]>) =>
    Effect.gen(function*() {
      if (completions.length === 0) return { completed: [], fenced: [] } satisfies CompleteReport
      // The common case, a batch all delivered, is a plain fenced DELETE.
      const allAcked = retainSent === undefined && completions.every((completion) => completion._tag === "Ack")
      const ids: Array<number> = []
      const kinds: Array<string> = []
      const delays: Array<number> = []
      const reasons: Array<string | null> = []
      const errors: Array<string | null> = []
      const parks: Array<boolean> = []
      for (const completion of completions) {
        ids.push(Number(completion.id))
        kinds.push(completion._tag)
        delays.push(completion._tag === "Retry" ? millis(completion.delay) : 0)
        reasons.push(completion._tag === "DeadLetter" ? completion.reason : null)
        errors.push(completion._tag === "Retry" || completion._tag === "DeadLetter" ? completion.error : null)
        parks.push(completion._tag === "DeadLetter" && completion.parkKey === true)
      }
      // One statement settles the batch; every branch is fenced by the claim's token.
      const rows = allAcked
        ? yield* sql<{ id: string | number }>`
          DELETE FROM ${outbox} WHERE id = ANY(${ids}::bigint[]) AND locked_by = ${token} RETURNING id`.withoutTransform
        : yield* sql<{ id: string | number }>`
        WITH input AS (
          SELECT * FROM unnest(${ids}::bigint[], ${kinds}::text[], ${delays}::float8[], ${reasons}::text[], ${errors}::text[],
                               ${parks}::boolean[])
            AS t(id, kind, delay_ms, reason, error, parks_key)
        ),
        acked AS (${
        retainSent === undefined
          ? sql`DELETE FROM ${outbox} o USING input i
              WHERE i.kind = 'Ack' AND o.id = i.id AND o.locked_by = ${token} RETURNING o.id`
          : sql`UPDATE ${outbox} o SET sent_at = now(), locked_by = NULL, locked_until = NULL FROM input i
              WHERE i.kind = 'Ack' AND o.id = i.id AND o.locked_by = ${token} RETURNING o.id`
      }),
        retried AS (
          UPDATE ${outbox} o
          SET available_at = now() + i.delay_ms * interval '1 millisecond', last_error = i.error,
              attempts = LEAST(o.attempts, ${maxCount - 1}) + 1, locked_by = NULL, locked_until = NULL
          FROM input i WHERE i.kind = 'Retry' AND o.id = i.id AND o.locked_by = ${token} RETURNING o.id
        ),
        released AS (
          UPDATE ${outbox} o
          SET available_at = now(), locked_by = NULL, locked_until = NULL,
              held_key = NULL
          FROM input i WHERE i.kind = 'Release' AND o.id = i.id AND o.locked_by = ${token} RETURNING o.id
        ),
        died AS (
          DELETE FROM ${outbox} o USING input i
          WHERE i.kind = 'DeadLetter' AND o.id = i.id AND o.locked_by = ${token}
          RETURNING o.id, o.topic, o.key, o.payload, o.headers, LEAST(o.attempts, ${maxCount - 1}) + 1 AS attempts,
            o.lost_claims, o.created_at, o.available_at, i.reason, i.error, i.parks_key AND o.key IS NOT NULL AS parks_key
        ),
        buried AS (
          INSERT INTO ${dead} (id, topic, key, payload, headers, attempts, lost_claims, created_at, available_at, reason,
                               last_error, parks_key)
          SELECT id, topic, key, payload, headers, attempts, lost_claims, created_at, available_at, reason, error, parks_key
          FROM died
          RETURNING id
        )
        SELECT id FROM acked UNION ALL SELECT id FROM retried UNION ALL SELECT id FROM released
        UNION ALL SELECT id FROM buried`.withoutTransform
      const done = new Set(rows.map((row) => String(row.id)))
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

  // The per-key lock of `append` (see the module comment); the two-int form keeps
  // it apart from single-bigint advisory locks such as leadership's.
  const lockKey = (key: string | Statement.Fragment) =>
    sql`pg_advisory_xact_lock(hashtext(${tables.outbox}), hashtext(${key}))`

  const wakeups: Stream.Stream<void> = Option.match(notifications, {
    onNone: () => Stream.never,
    onSome: (service) => Stream.map(service.listen(tables.channel), () => undefined)
  })

  const store = OutboxStore.of({
    append: (messages) =>
      Effect.gen(function*() {
        if (messages.length === 0) return []
        const [single] = messages
        if (messages.length === 1 && single !== undefined) {
          // One message (the usual publish): no arrays to build or unnest. A keyed one
          // takes its key's lock first, so its id is drawn after the key's earlier publishers commit.
          const rows = yield* sql<{ id: string | number }>`
            WITH inserted AS (
              INSERT INTO ${outbox} (topic, key, payload, headers, available_at)
              SELECT ${single.topic}, ${single.key}, ${JSON.stringify(single.payload)}::jsonb,
                     ${JSON.stringify(single.headers)}::jsonb,
                     now() + ${single.delay === undefined ? 0 : millis(single.delay)} * interval '1 millisecond'
              ${single.key === null ? sql`` : sql`FROM (SELECT ${lockKey(single.key)}) AS locked`}
              RETURNING id
            )
            SELECT id FROM inserted, (SELECT pg_notify(${tables.channel}, 'append')) AS wake`.withoutTransform
          return rows.map((row) => String(row.id))
        }
        const topics = messages.map((m) => m.topic)
        const keys = messages.map((m) => m.key)
        const payloads = messages.map((m) => JSON.stringify(m.payload))
        const headers = messages.map((m) => JSON.stringify(m.headers))
        const delays = messages.map((m) => (m.delay === undefined ? 0 : millis(m.delay)))
        // Keys' locks in sorted order, so two publishers of the same keys cannot deadlock.
        const lockKeys = Array.from(new Set(keys.filter((key): key is string => key !== null))).sort()
        // One statement: the keys' locks, the rows in order, and the commit-time wake-up.
        const rows = yield* sql<{ id: string | number }>`
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
        return rows.map((row) => String(row.id)).sort((a, b) => Number(a) - Number(b))
      }).pipe(refail("append")),

    claim: (claimOptions) =>
      Effect.gen(function*() {
        const token = `${instance}-${++claims}`
        const rows = yield* claimStatement(sql, tables, token, claimOptions).withoutTransform
        const messages: Array<OutboxMessage> = []
        const malformed: Array<MessageRow.Malformed> = []
        for (const row of rows) {
          Either.match(MessageRow.decode(String(row.id), row), {
            onLeft: (bad) => malformed.push(bad),
            onRight: (message) => messages.push(message)
          })
        }
        // RETURNING has no order; freshFirst puts first attempts first, as claimed.
        messages.sort((a, b) =>
          claimOptions.freshFirst === true && (a.attempts === 1) !== (b.attempts === 1)
            ? (a.attempts === 1 ? -1 : 1)
            : byId(a, b)
        )
        return malformed.length === 0 ? { token, messages } : { token, messages, malformed }
      }).pipe(refail("claim")),

    complete,

    renewLease: (token, ids, leaseFor) =>
      sql<{ id: string | number }>`
        UPDATE ${outbox}
        SET locked_until = now() + ${millis(leaseFor)} * interval '1 millisecond',
            available_at = now() + ${millis(leaseFor)} * interval '1 millisecond'
        WHERE id = ANY(${ids.map(Number)}::bigint[]) AND locked_by = ${token}
        RETURNING id`.withoutTransform.pipe(
        Effect.map((rows) => rows.map((row) => String(row.id)).sort((a, b) => Number(a) - Number(b))),
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
      sql<{ id: string | number }>`
        SELECT id FROM ${outbox} WHERE id = ANY(${ids.map(Number)}::bigint[]) AND sent_at IS NULL ORDER BY id`
        .withoutTransform.pipe(
          Effect.map((rows) => rows.map((row) => String(row.id))),
          refail("unsettled")
        ),

    deadLetters: {
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
              messageId: String(row.id),
              topic: row.topic,
              reason: row.reason,
              lastError: row.last_error,
              since: row.dead_at
            }))
          ),
          refail("deadLetters.parkedKeys")
        )
    },

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
    )
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
 */
export const layer = (options: Options = {}): Layer.Layer<OutboxStore, OutboxStoreError, SqlClient.SqlClient> =>
  Layer.scoped(OutboxStore, make(options))

