/**
 * The completion's SQL: one statement settles a whole batch (acks, retries,
 * dead letters, releases as data-modifying CTEs), every branch fenced by the
 * claim's token. The ack alone is also folded into the next claim (`claimSql`).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Duration from "effect/Duration"
import type { Completion } from "@effect-outbox/core/OutboxStore"
import { maxCount, millis } from "./claimSql.js"
import type * as Tables from "./tables.js"

/** Where completions are written: the store's client and tables, and whether it keeps sent rows. */
export interface Target {
  readonly sql: SqlClient.SqlClient
  readonly tables: Tables.Tables
  readonly retainSent: Duration.Duration | undefined
}

/** Acks the ids still leased under `token`: delete them, or mark them sent where sent rows are retained. */
export const ackRows = ({ retainSent, sql, tables }: Target, token: string, ids: ReadonlyArray<string>) =>
  retainSent === undefined
    ? sql<{ readonly id: string }>`DELETE FROM ${sql(tables.outbox)} WHERE id = ANY(${ids}::bigint[]) AND locked_by = ${token} RETURNING id`
    : sql<{ readonly id: string }>`UPDATE ${sql(tables.outbox)} SET sent_at = now(), locked_by = NULL, locked_until = NULL
          WHERE id = ANY(${ids}::bigint[]) AND locked_by = ${token} RETURNING id`

/** The statement settling `completions` under `token`; it returns the ids it settled (the rest were fenced). */
export const completeStatement = (target: Target, token: string, completions: ReadonlyArray<Completion>) => {
  const { retainSent, sql, tables } = target
  const ids: Array<string> = []
  const kinds: Array<string> = []
  const delays: Array<number> = []
  const reasons: Array<string | null> = []
  const errors: Array<string | null> = []
  const parks: Array<boolean> = []
  for (const completion of completions) {
    ids.push(completion.id)
    kinds.push(completion._tag)
    delays.push(completion._tag === "Retry" ? millis(completion.delay) : 0)
    reasons.push(completion._tag === "DeadLetter" ? completion.reason : null)
    errors.push(completion._tag === "Retry" || completion._tag === "DeadLetter" ? completion.error : null)
    parks.push(completion._tag === "DeadLetter" && completion.parkKey === true)
  }
  // The common case, a batch all delivered, is the ack alone.
  if (kinds.every((kind) => kind === "Ack")) return ackRows(target, token, ids)
  const outbox = sql(tables.outbox)
  return sql<{ readonly id: string }>`
    WITH input AS (
      SELECT * FROM unnest(${ids}::bigint[], ${kinds}::text[], ${delays}::float8[], ${reasons}::text[], ${errors}::text[],
                           ${parks}::boolean[])
        AS t(id, kind, delay_ms, reason, error, parks_key)
    ),
    acked AS (${
    retainSent === undefined
      ? sql<{ readonly id: string }>`DELETE FROM ${outbox} o USING input i
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
      INSERT INTO ${sql(tables.deadLetters)} (id, topic, key, payload, headers, attempts, lost_claims, created_at, available_at,
                                              reason, last_error, parks_key)
      SELECT id, topic, key, payload, headers, attempts, lost_claims, created_at, available_at, reason, error, parks_key
      FROM died
      RETURNING id
    )
    SELECT id FROM acked UNION ALL SELECT id FROM retried UNION ALL SELECT id FROM released
    UNION ALL SELECT id FROM buried`
}
