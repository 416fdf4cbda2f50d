/**
 * Hand-written floors with `pg`, on the same table the store uses: what a
 * careful engineer would write without the library.
 */
import type pg from "pg"
import { client, now } from "./harness.js"

/** The two statements of the at-least-once floor: lease a batch, then delete it. */
export const twoStep = {
  claim: (schema: string) =>
    `UPDATE ${schema}.outbox SET locked_by = 'floor', locked_until = now() + interval '30 seconds',
       available_at = now() + interval '30 seconds', attempts = attempts + 1
     WHERE id IN (SELECT id FROM ${schema}.outbox WHERE sent_at IS NULL AND available_at <= now()
                  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id, topic, key, payload, headers, attempts, created_at`,
  remove: (schema: string) => `DELETE FROM ${schema}.outbox WHERE id = ANY($1::bigint[])`
}

/** At-least-once, two steps: lease a batch (UPDATE … SKIP LOCKED RETURNING), then DELETE it. msgs/s. */
export const twoStepDrain = async (schema: string, batchSize: number, workers = 1): Promise<number> => {
  const drainWith = async (connection: pg.Client) => {
    let drained = 0
    for (;;) {
      const claimed = await connection.query<{ id: string }>(twoStep.claim(schema), [batchSize])
      if (claimed.rows.length === 0) return drained
      await connection.query(twoStep.remove(schema), [claimed.rows.map((row) => row.id)])
      drained += claimed.rows.length
    }
  }
  return timed(workers, drainWith)
}

/** The transactional floor's claim: the batch's row locks, in an open transaction, are its lease. */
export const transactionalClaim = (schema: string) =>
  `DELETE FROM ${schema}.outbox WHERE id IN (SELECT id FROM ${schema}.outbox WHERE sent_at IS NULL
     AND available_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
   RETURNING id, topic, key, payload, headers, attempts, created_at`

/**
 * At-least-once in one transaction: BEGIN; DELETE … SKIP LOCKED RETURNING;
 * (a no-op send); COMMIT. What the relay's transactional mode does, by hand. msgs/s.
 */
export const transactionalDrain = async (schema: string, batchSize: number, workers = 1): Promise<number> =>
  timed(workers, async (connection) => {
    let drained = 0
    for (;;) {
      await connection.query("BEGIN")
      const deleted = await connection.query(transactionalClaim(schema), [batchSize])
      await connection.query("COMMIT")
      if (deleted.rows.length === 0) return drained
      drained += deleted.rows.length
    }
  })

const timed = async (workers: number, drain: (connection: pg.Client) => Promise<number>) => {
  const connections = await Promise.all(Array.from({ length: workers }, () => client()))
  try {
    const started = now()
    const counts = await Promise.all(connections.map(drain))
    const seconds = (now() - started) / 1000
    return counts.reduce((a, b) => a + b, 0) / seconds
  } finally {
    await Promise.all(connections.map((connection) => connection.end()))
  }
}
