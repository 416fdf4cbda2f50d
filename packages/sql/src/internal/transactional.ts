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
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
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
import { claimStatement, headsOnly, type MessageRow, millis, sortClaimed, toMessage } from "./claimSql.js"
import { refail } from "./errors.js"
import { slowClaimMillis } from "./statistics.js"
import type * as Tables from "./tables.js"

/** What the transactional mode needs from the store it belongs to. */
export interface Deps {
  readonly sql: SqlClient.SqlClient
  readonly tables: Tables.Tables
  readonly retainSent: Duration.Duration | undefined
  readonly nextToken: () => string
  /** The lease completion, reused for `retainSent`. */
  readonly complete: (
    token: string,
    completions: ReadonlyArray<Completion>
  ) => Effect.Effect<unknown, OutboxStoreError>
  readonly maxOpen: number | undefined
  /** Run after a slow claim (see `statistics.ts`). */
  readonly refreshStatistics: Effect.Effect<void>
}

// The claim: the same choice of rows as the lease claim, deleted instead of leased.
const deleteStatement = (deps: Deps, options: ClaimOptions) => {
  const { sql, tables } = deps
  const outbox = sql(tables.outbox)
  return sql<MessageRow>`
    DELETE FROM ${outbox} x USING (
      SELECT id FROM ${outbox} o
      WHERE sent_at IS NULL AND available_at <= now() AND ${headsOnly(sql, tables, options.ordered)}
      ORDER BY ${options.freshFirst === true ? sql`(attempts > 0), id` : sql`id`}
      LIMIT ${options.batchSize}
      FOR UPDATE SKIP LOCKED
    ) picked
    WHERE x.id = picked.id
    RETURNING x.id, x.topic, x.key, x.payload, x.headers, x.attempts + 1 AS attempts, x.created_at, x.available_at`
}

/**
 * Puts back what was not delivered, in the claim's transaction: retries and
 * releases return to the outbox under their own id (so a key's order holds),
 * dead letters go to their table. One statement.
 */
const writeBack = (
  deps: Deps,
  options: ClaimOptions,
  messages: ReadonlyArray<OutboxMessage>,
  completions: ReadonlyArray<Completion>
) => {
  const { sql, tables } = deps
  const byId = new Map(messages.map((message) => [message.id, message]))
  const back = { ids: [] as Array<number>, topics: [] as Array<string>, keys: [] as Array<string | null>,
    payloads: [] as Array<string>, headers: [] as Array<string>, attempts: [] as Array<number>,
    created: [] as Array<Date>, available: [] as Array<Date>, delays: [] as Array<number>,
    errors: [] as Array<string | null>, held: [] as Array<string | null>, kinds: [] as Array<string>,
    reasons: [] as Array<string | null>, parks: [] as Array<boolean> }
  for (const completion of completions) {
    const message = byId.get(completion.id)
    if (message === undefined || completion._tag === "Ack") continue
    back.ids.push(Number(message.id))
    back.topics.push(message.topic)
    back.keys.push(message.key)
    back.payloads.push(JSON.stringify(message.payload))
    back.headers.push(JSON.stringify(message.headers))
    // The claim counted this delivery; a release hands it back uncounted.
    back.attempts.push(completion._tag === "Release" ? Math.max(0, message.attempts - 1) : message.attempts)
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
  if (back.ids.length === 0) return Effect.void
  return sql`
    WITH input AS (
      SELECT * FROM unnest(${back.ids}::bigint[], ${back.topics}::text[], ${back.keys}::text[], ${back.payloads}::text[],
        ${back.headers}::text[], ${back.attempts}::int[], ${back.created}::timestamptz[], ${back.available}::timestamptz[],
        ${back.delays}::float8[], ${back.errors}::text[], ${back.held}::text[], ${back.kinds}::text[],
        ${back.reasons}::text[], ${back.parks}::boolean[])
        AS t(id, topic, key, payload, headers, attempts, created_at, available_at, delay_ms, error, held_key, kind,
             reason, parks_key)
    ),
    returned AS (
      INSERT INTO ${sql(tables.outbox)}
        (id, topic, key, payload, headers, attempts, created_at, available_at, last_error, held_key)
      SELECT id, topic, key, payload::jsonb, headers::jsonb, attempts, created_at,
             now() + delay_ms * interval '1 millisecond', error, held_key
      FROM input WHERE kind <> 'DeadLetter'
    )
    INSERT INTO ${sql(tables.deadLetters)}
      (id, topic, key, payload, headers, attempts, created_at, available_at, reason, last_error, parks_key)
    SELECT id, topic, key, payload::jsonb, headers::jsonb, attempts, created_at, available_at, reason, error, parks_key
    FROM input WHERE kind = 'DeadLetter'`.withoutTransform
}

// `settle` runs outside the transaction's connection: a sender's own queries
// must not join (or be rolled back with) the relay's transaction.
const outsideTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapInputContext(
    effect,
    // The cast only widens back: removing a service `effect` never asked for leaves what it needs.
    (context: Context.Context<R>) => Context.omit(SqlClient.TransactionConnection)(context) as Context.Context<R>
  )

/**
 * A claim that did not commit still counts its attempt, in a statement of its
 * own, so a batch that keeps failing this way still reaches its dead letter.
 * Best effort and bounded: a dead server cannot take it (the attempt is then not counted).
 */
const countLostAttempt = (deps: Deps, ids: ReadonlyArray<number>) =>
  deps.sql`UPDATE ${deps.sql(deps.tables.outbox)} SET attempts = attempts + 1
    WHERE id = ANY(${ids}::bigint[]) AND sent_at IS NULL`.withoutTransform.pipe(
    // The pool may hand out the dead connection once more before it notices.
    Effect.retry({ times: 2 }),
    Effect.timeout("5 seconds"),
    Effect.tapErrorCause((cause) =>
      Effect.logWarning("Could not count the attempt of a batch whose transaction rolled back", cause)),
    Effect.ignore // losing the count only delays the dead letter by one attempt
  )

/** The transactional claims of a SQL store. */
export const make = (deps: Deps): TransactionalClaims => ({
  maxOpen: deps.maxOpen,
  run: <E, R>(
    options: ClaimOptions,
    settle: (claim: Claim) => Effect.Effect<ReadonlyArray<Completion>, E, R>
  ): Effect.Effect<TransactionalBatch, OutboxStoreError | E, R> => {
    let claimed: ReadonlyArray<number> = []
    const token = deps.nextToken()
    const transaction = Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const rows = deps.retainSent === undefined
        ? yield* deleteStatement(deps, options).withoutTransform
        : yield* claimStatement(deps.sql, deps.tables, token, options).withoutTransform
      if ((yield* Clock.currentTimeMillis) - started >= slowClaimMillis) yield* deps.refreshStatistics
      const messages = sortClaimed(rows.map(toMessage), options.freshFirst)
      const claim: Claim = { token, messages }
      if (messages.length === 0) return { claim, completions: [] }
      claimed = messages.map((message) => Number(message.id))
      const completions = yield* outsideTransaction(settle(claim))
      if (deps.retainSent === undefined) yield* writeBack(deps, options, messages, completions)
      else yield* deps.complete(token, completions)
      return { claim, completions }
    })
    return deps.sql.withTransaction(transaction).pipe(
      // A failed COMMIT or ROLLBACK (a lost connection) arrives as a defect.
      Effect.catchAllDefect((defect) =>
        Effect.fail(
          new OutboxStoreError({
            operation: "transactional claim",
            cause: defect,
            detail: "the transaction did not commit; its batch is claimable again"
          })
        )
      ),
      Effect.onExit((exit) => Exit.isSuccess(exit) || claimed.length === 0 ? Effect.void : countLostAttempt(deps, claimed)),
      refail("transactional claim")
    )
  }
})
