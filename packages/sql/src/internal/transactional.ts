/**
 * The transactional claim mode of the SQL store: the batch's row locks, held by
 * an open transaction, are its lease.
 *
 * BEGIN; DELETE … WHERE id IN (SELECT … ORDER BY id FOR UPDATE SKIP LOCKED LIMIT n)
 * RETURNING …; send; write the retries and dead letters of the messages that did
 * not go out; COMMIT. A delivered message costs one write (its DELETE). A crash,
 * a lost connection or a killed process rolls the transaction back, so the whole
 * batch is claimable again at once, with no lease to wait out.
 *
 * With `retainSent` the claim is the lease claim's UPDATE and the settlement the
 * lease completion, both in the one transaction: sent rows are kept, at the
 * price of a second write per message.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import {
  type Claim,
  type ClaimOptions,
  type Completion,
  isOrdered,
  OutboxStoreError,
  type TransactionalBatch,
  type TransactionalClaims
} from "@effect-outbox/core/OutboxStore"
import type { OutboxMessage } from "@effect-outbox/core/Message"
import { claimStatement, decodeClaimed, epochMillis, headsOnly, maxCount, millis, type RawRow } from "./claimSql.js"
import { completeStatement } from "./completeSql.js"
import { refail } from "./errors.js"
import { inline } from "./inline.js"
import { slowClaimMillis } from "./statistics.js"
import type * as Tables from "./tables.js"

/** What the transactional mode needs from the store it belongs to. */
export interface Deps {
  readonly sql: SqlClient.SqlClient
  readonly tables: Tables.Tables
  readonly retainSent: Duration.Duration | undefined
  readonly nextToken: () => string
  readonly maxOpen: number | undefined
  /** Run after a slow claim (see `statistics.ts`). */
  readonly refreshStatistics: Effect.Effect<void>
}

// The claim: the same choice of rows as the lease claim, deleted instead of leased.
const deleteStatement = (deps: Deps, options: ClaimOptions) => {
  const { sql, tables } = deps
  const outbox = sql(tables.outbox)
  return sql<RawRow>`
    DELETE FROM ${outbox} x USING (
      SELECT id FROM ${outbox} o
      WHERE sent_at IS NULL AND available_at <= now() AND ${headsOnly(sql, tables, options.ordered)}
      ORDER BY ${options.freshFirst === true ? sql`(attempts > 0), id` : sql`id`}
      LIMIT ${options.batchSize}
      FOR UPDATE SKIP LOCKED
    ) picked
    WHERE x.id = picked.id
    RETURNING x.id, x.topic, x.key, x.payload, x.headers, x.attempts, x.lost_claims,
      ${epochMillis(sql, "x.created_at")} AS created_at, ${epochMillis(sql, "x.available_at")} AS available_at`
}

// The stored values of a row that did not decode, as well as they can be carried
// into its dead letter: its fields may not hold what their types say.
const text = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value) ?? "")
const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) ? Math.max(0, Math.min(Math.trunc(value), maxCount - 1)) : 0
const date = (value: unknown): Date => {
  const parsed = value instanceof Date ? value : new Date(typeof value === "number" || typeof value === "string" ? value : 0)
  return Number.isNaN(parsed.getTime()) ? new Date(0) : parsed
}
const fromRaw = (row: RawRow): OutboxMessage => ({
  id: row.id ?? "",
  topic: text(row.topic),
  key: row.key === null || row.key === undefined ? null : text(row.key),
  payload: row.payload ?? null,
  // Carried as stored (the dead letter keeps what the row held).
  headers: (typeof row.headers === "object" && row.headers !== null ? row.headers : {}) as OutboxMessage["headers"],
  attempts: count(row.attempts) + 1,
  lostClaims: count(row.lost_claims),
  createdAt: date(row.created_at),
  availableAt: date(row.available_at)
})

/**
 * Puts back what was not delivered, in the claim's transaction: retries and
 * releases return to the outbox under their own id (so a key's order holds),
 * dead letters go to their table. One statement (and the retry wake-up), none
 * when everything was delivered.
 */
const writeBack = (
  deps: Deps,
  options: ClaimOptions,
  messages: ReadonlyArray<OutboxMessage>,
  raw: ReadonlyMap<string, RawRow>,
  completions: ReadonlyArray<Completion>
) => {
  const { sql, tables } = deps
  const byId = new Map(messages.map((message) => [message.id, message]))
  // A row that did not decode has no message: it is dead-lettered from its stored values.
  const asMessage = (id: string): OutboxMessage | undefined => {
    const row = raw.get(id)
    return byId.get(id) ?? (row === undefined ? undefined : fromRaw(row))
  }
  const back = { ids: [] as Array<string>, topics: [] as Array<string>, keys: [] as Array<string | null>,
    payloads: [] as Array<string>, headers: [] as Array<string>, attempts: [] as Array<number>,
    created: [] as Array<Date>, available: [] as Array<Date>, delays: [] as Array<number>,
    errors: [] as Array<string | null>, held: [] as Array<string | null>, kinds: [] as Array<string>,
    lost: [] as Array<number>,
    reasons: [] as Array<string | null>, parks: [] as Array<boolean> }
  for (const completion of completions) {
    const message = asMessage(completion.id)
    if (message === undefined || completion._tag === "Ack") continue
    back.ids.push(message.id)
    back.topics.push(message.topic)
    back.keys.push(message.key)
    back.payloads.push(JSON.stringify(message.payload))
    back.headers.push(JSON.stringify(message.headers))
    // The claim counted this delivery; a release hands it back uncounted.
    back.attempts.push(completion._tag === "Release" ? Math.max(0, message.attempts - 1) : message.attempts)
    back.lost.push(message.lostClaims)
    back.created.push(message.createdAt)
    back.available.push(message.availableAt)
    back.delays.push(completion._tag === "Retry" ? millis(completion.delay) : 0)
    back.errors.push(completion._tag === "Release" ? null : completion.error)
    // A retried head keeps holding its key, as in lease mode (see `headsOnly`).
    back.held.push(completion._tag === "Retry" && isOrdered(options.ordered, message) ? message.key : null)
    back.kinds.push(completion._tag)
    back.reasons.push(completion._tag === "DeadLetter" ? completion.reason : null)
    back.parks.push(completion._tag === "DeadLetter" && completion.parkKey === true && message.key !== null)
  }
  if (back.ids.length === 0) return []
  const putBack = sql`
    WITH input AS (
      SELECT * FROM unnest(${back.ids}::bigint[], ${back.topics}::text[], ${back.keys}::text[], ${back.payloads}::text[],
        ${back.headers}::text[], ${back.attempts}::int[], ${back.created}::timestamptz[], ${back.available}::timestamptz[],
        ${back.delays}::float8[], ${back.errors}::text[], ${back.held}::text[], ${back.kinds}::text[],
        ${back.reasons}::text[], ${back.parks}::boolean[], ${back.lost}::int[])
        AS t(id, topic, key, payload, headers, attempts, created_at, available_at, delay_ms, error, held_key, kind,
             reason, parks_key, lost_claims)
    ),
    returned AS (
      INSERT INTO ${sql(tables.outbox)}
        (id, topic, key, payload, headers, attempts, lost_claims, created_at, available_at, last_error, held_key)
      SELECT id, topic, key, payload::jsonb, headers::jsonb, attempts, lost_claims, created_at,
             now() + delay_ms * interval '1 millisecond', error, held_key
      FROM input WHERE kind <> 'DeadLetter'
    )
    INSERT INTO ${sql(tables.deadLetters)}
      (id, topic, key, payload, headers, attempts, lost_claims, created_at, available_at, reason, last_error, parks_key)
    SELECT id, topic, key, payload::jsonb, coalesce(headers::jsonb, '{}'::jsonb), attempts, lost_claims, created_at,
           available_at, reason, error, parks_key
    FROM input WHERE kind = 'DeadLetter'`
  // A retry comes due later: tell the other relays on commit (as the lease completion does).
  return back.kinds.includes("Retry") ? [putBack, notifyRetry(deps)] : [putBack]
}

const notifyRetry = (deps: Deps) => deps.sql`SELECT pg_notify(${deps.tables.channel}, 'retry')`

/**
 * A claim that did not commit is a lost claim (as a lease that expired unsettled
 * is in lease mode), counted in a statement of its own so a batch that keeps
 * being rolled back still reaches `maxLostClaims` and its dead letter. Best
 * effort and bounded: a dead server cannot take it (the claim is then not counted).
 */
const countLostClaim = (deps: Deps, ids: ReadonlyArray<string>) =>
  deps.sql`UPDATE ${deps.sql(deps.tables.outbox)} SET lost_claims = LEAST(lost_claims, ${maxCount - 1}) + 1
    WHERE id = ANY(${ids}::bigint[]) AND sent_at IS NULL`.withoutTransform.pipe(
    // The pool may hand out the dead connection once more before it notices.
    Effect.retry({ times: 2 }),
    Effect.timeout("5 seconds"),
    Effect.tapErrorCause((cause) =>
      Effect.logWarning("Could not count the lost claim of a batch whose transaction rolled back", cause)),
    Effect.ignore // losing the count only delays maxLostClaims by one
  )

/** The transactional claims of a SQL store. */
export const make = (deps: Deps): TransactionalClaims => ({
  maxOpen: deps.maxOpen,
  run: <E, R>(
    options: ClaimOptions,
    settle: (claim: Claim) => Effect.Effect<ReadonlyArray<Completion>, E, R>
  ): Effect.Effect<TransactionalBatch, OutboxStoreError | E, R> => {
    let claimed: ReadonlyArray<string> = []
    const token = deps.nextToken()
    const transaction = Effect.gen(function*() {
      // A connection of its own, driven by hand rather than by `withTransaction`:
      // `BEGIN` rides with the claim (two round trips a batch, not three), and
      // the sender's own queries, on other connections, never join the transaction.
      const connection = yield* deps.sql.reserve
      const run = (statement: Statement.Statement<unknown>) => {
        const [text, params] = statement.compile(true)
        return connection.execute(text, params, undefined)
      }
      const started = yield* Clock.currentTimeMillis
      const claimSql = deps.retainSent === undefined
        ? deleteStatement(deps, options)
        : claimStatement(deps.sql, deps.tables, token, options)
      const results = yield* connection.executeUnprepared(`BEGIN; ${inline(claimSql)}`, [], undefined).pipe(
        Effect.onError(() => Effect.ignore(connection.executeUnprepared("ROLLBACK", [], undefined)))
      )
      const rows = (results as ReadonlyArray<ReadonlyArray<RawRow>>)[1] ?? []
      if ((yield* Clock.currentTimeMillis) - started >= slowClaimMillis) yield* deps.refreshStatistics
      const claim = decodeClaimed(token, rows, options.freshFirst)
      const completions = rows.length === 0 ? [] : yield* Effect.gen(function*() {
        claimed = rows.map((row) => row.id ?? "")
        const completions = yield* settle(claim)
        const statements = deps.retainSent === undefined
          ? writeBack(deps, options, claim.messages, new Map(rows.map((row) => [row.id ?? "", row])), completions)
          : [
            completeStatement(deps, token, completions),
            ...(completions.some((completion) => completion._tag === "Retry") ? [notifyRetry(deps)] : [])
          ]
        for (const statement of statements) yield* run(statement)
        return completions
      }).pipe(
        // Whatever stops the batch (a failed send, an interruption, a refused statement) rolls it back.
        Effect.onExit((exit) =>
          Exit.isSuccess(exit) ? Effect.void : Effect.ignore(connection.executeUnprepared("ROLLBACK", [], undefined))
        )
      )
      yield* connection.executeUnprepared("COMMIT", [], undefined)
      return { claim, completions }
    }).pipe(Effect.scoped)
    return transaction.pipe(
      Effect.catchAllDefect((defect) =>
        Effect.fail(
          new OutboxStoreError({
            operation: "transactional claim",
            cause: defect,
            detail: "the transaction did not commit; its batch is claimable again"
          })
        )
      ),
      Effect.onExit((exit) => Exit.isSuccess(exit) || claimed.length === 0 ? Effect.void : countLostClaim(deps, claimed)),
      refail("transactional claim")
    )
  }
})
