/**
 * The producer: publishes the plan with `Outbox.publish`/`publishAll` inside
 * real `@effect/sql` transactions that also insert the business row
 * (`chaos_produced`), so the business table is the ground truth of what was
 * produced. A transaction cut by a restart is retried; the business row's
 * primary key tells a retry whose first attempt did commit (in doubt) to
 * stop, so a (key, seq) is never published twice.
 */
import { Outbox, Topic } from "@effect-outbox/core"
import { SqlOutboxStore } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { Planned } from "./Plan.js"
import type { Prng } from "./Prng.js"

/** The topic of every chaos message. */
export const ChaosEvent = Topic.make(
  "chaos.event",
  Schema.Struct({ key: Schema.String, seq: Schema.Number, poison: Schema.Boolean, note: Schema.String })
)

class AlreadyCommitted extends Data.TaggedError("AlreadyCommitted")<{}> {}

// An error at COMMIT (the server going away) arrives as a defect: it is as retryable as any other.
class Interrupted extends Data.TaggedError("Interrupted")<{ readonly cause: unknown }> {}

/** What the producer did. */
export interface Produced {
  readonly transactions: number
  /** Transactions that failed and were run again. */
  readonly retried: number
  /** Retries that found their first attempt had committed after all. */
  readonly inDoubtCommitted: number
}

/** Creates the business table (the outbox's tables come from the relays' or the store's migrations). */
export const prepare = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS chaos_produced (
    key text NOT NULL, seq int NOT NULL, poison boolean NOT NULL, PRIMARY KEY (key, seq))`
})

const publishOne = (batch: ReadonlyArray<Planned>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(Effect.gen(function*() {
    const rows = batch.map(({ key, poison, seq }) => ({ key, seq, poison }))
    const inserted = yield* sql`INSERT INTO chaos_produced ${sql.insert(rows)} ON CONFLICT DO NOTHING RETURNING key`
    if (inserted.length === 0) return yield* new AlreadyCommitted()
    const publications = batch.map((message) => ({
      topic: ChaosEvent,
      payload: { key: message.key, seq: message.seq, poison: message.poison, note: "x".repeat(64) },
      options: { key: message.key, ...(message.delayMs > 0 ? { delay: Duration.millis(message.delayMs) } : {}) }
    }))
    const [single] = publications
    if (publications.length === 1 && single !== undefined) {
      yield* Outbox.publish(single.topic, single.payload, single.options)
    } else {
      yield* Outbox.publishAll(publications)
    }
  })))

/**
 * Publishes `messages` (in order per key) from `fibers` fibers, each owning a
 * share of the keys, so one key's transactions commit in sequence order.
 * Spreads them over `spreadMs` (0: as fast as it can).
 */
export const publish = (
  messages: ReadonlyArray<Planned>,
  options: { readonly fibers: number; readonly spreadMs: number; readonly prng: Prng }
) =>
  Effect.gen(function*() {
    const stats = { transactions: 0, retried: 0, inDoubtCommitted: 0 }
    const shares = Array.from({ length: options.fibers }, () => [] as Array<Planned>)
    for (const message of messages) shares[Number(message.key.slice(1)) % options.fibers]?.push(message)
    const batches = shares.map((share) => {
      const out: Array<ReadonlyArray<Planned>> = []
      for (let i = 0; i < share.length;) {
        const size = options.prng.between(1, 20)
        out.push(share.slice(i, i + size))
        i += size
      }
      return out
    })
    const startedAt = performance.now()
    yield* Effect.forEach(batches, (fiberBatches) =>
      Effect.forEach(fiberBatches, (batch, index) =>
        Effect.gen(function*() {
          let attempt = 0
          yield* publishOne(batch).pipe(
            Effect.catchAllDefect((cause) => Effect.fail(new Interrupted({ cause }))),
            Effect.tapError(() => Effect.sync(() => attempt++ === 0 ? stats.retried++ : undefined)),
            Effect.retry({ while: (error) => error._tag !== "AlreadyCommitted", schedule: Schedule.spaced("200 millis").pipe(Schedule.upTo("90 seconds")) }),
            Effect.catchTag("AlreadyCommitted", () => Effect.sync(() => stats.inDoubtCommitted++))
          )
          stats.transactions++
          // Pace: batch `index` of this fiber is due at its share of the spread.
          const due = startedAt + (options.spreadMs * (index + 1)) / fiberBatches.length
          const wait = due - performance.now()
          if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        }), { discard: true }), { concurrency: "unbounded", discard: true })
    return stats satisfies Produced
  })

/** The producer's database: the store (migrated) and `Outbox`, on a small pool. */
export const layer = (url: string) =>
  Layer.provideMerge(Outbox.layer, SqlOutboxStore.layer({ migrate: true })).pipe(
    Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4, applicationName: "chaos-producer" }))
  )
