/**
 * Relays announce themselves: each relay process keeps one row in the
 * `<prefix>_relays` table (its settings, when it last settled a batch, its
 * totals), rewritten every few seconds; rows not rewritten for a while are
 * stale and deleted. So a dashboard, `/readyz` or `outbox stats` can list who
 * drains an outbox, and a stuck or missing relay is visible.
 *
 * Times are the database's `now()`, so relays on different hosts agree.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { type OutboxStoreError } from "@effect-outbox/core/OutboxStore"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { refail } from "./internal/errors.js"
import * as Tables from "./internal/tables.js"
import type * as Migrations from "./Migrations.js"

/**
 * What a relay says about itself in each heartbeat.
 *
 * @category models
 * @since 0.1.0
 */
export interface Heartbeat {
  /** Unique per process (host, pid and a random part). */
  readonly relayId: string
  readonly host: string
  readonly pid: number
  /** How the relay claims: `lease` (the default) or `transactional`. */
  readonly claimMode: string
  readonly batchSize: number
  readonly concurrency: number
  /** `false`, `true`, or the ordered topics comma-separated. */
  readonly ordered: string
  /** `running`, `stopped`, … as the relay's tracker says. */
  readonly state: string
  readonly startedAt: Date
  /** When the relay last settled a batch with at least one message, if ever. */
  readonly lastBatchAt: Date | null
  readonly sent: number
  readonly retried: number
  readonly deadLettered: number
}

/**
 * A registered relay, as listed: its last heartbeat, and how long ago it was written.
 *
 * @category models
 * @since 0.1.0
 */
export interface Relay extends Heartbeat {
  readonly lastSeen: Date
  readonly lastSeenSecondsAgo: number
}

/**
 * The registry of one outbox's relays.
 *
 * @category tags
 * @since 0.1.0
 */
export class RelayRegistry extends Context.Tag("@effect-outbox/sql/RelayRegistry")<RelayRegistry, {
  /** Writes (inserts or replaces) this relay's row, stamped with the database's `now()`. */
  readonly beat: (heartbeat: Heartbeat) => Effect.Effect<void, OutboxStoreError>
  /** The registered relays, most recently seen first. */
  readonly list: Effect.Effect<ReadonlyArray<Relay>, OutboxStoreError>
  /** Deletes rows not rewritten for `olderThan`; returns how many. */
  readonly removeStale: (olderThan: Duration.DurationInput) => Effect.Effect<number, OutboxStoreError>
  /** Deletes one relay's row (on a clean shutdown). */
  readonly remove: (relayId: string) => Effect.Effect<void, OutboxStoreError>
}>() {}

interface Row {
  readonly relay_id: string
  readonly host: string
  readonly pid: number
  readonly claim_mode: string
  readonly batch_size: number
  readonly concurrency: number
  readonly ordered: string
  readonly state: string
  readonly started_at: Date
  readonly last_batch_at: Date | null
  readonly sent: string | number
  readonly retried: string | number
  readonly dead_lettered: string | number
  readonly last_seen: Date
  readonly ago: number
}

const millis = (duration: Duration.DurationInput) => Math.max(0, Math.round(Duration.toMillis(Duration.decode(duration))))

/**
 * Makes the registry for the outbox under `options` (the tables come from migration 6).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Migrations.Options = {}) =>
  Effect.gen(function*() {
    const tables = yield* Tables.resolve(options)
    const sql = yield* SqlClient.SqlClient
    const relays = sql(tables.relays)
    return RelayRegistry.of({
      beat: (beat) =>
        sql`INSERT INTO ${relays} (relay_id, host, pid, claim_mode, batch_size, concurrency, ordered, state,
            started_at, last_batch_at, sent, retried, dead_lettered, last_seen)
          VALUES (${beat.relayId}, ${beat.host}, ${beat.pid}, ${beat.claimMode}, ${beat.batchSize}, ${beat.concurrency},
            ${beat.ordered}, ${beat.state}, ${beat.startedAt}, ${beat.lastBatchAt}, ${beat.sent}, ${beat.retried},
            ${beat.deadLettered}, now())
          ON CONFLICT (relay_id) DO UPDATE SET state = excluded.state, last_batch_at = excluded.last_batch_at,
            sent = excluded.sent, retried = excluded.retried, dead_lettered = excluded.dead_lettered,
            last_seen = now()`.withoutTransform.pipe(Effect.asVoid, refail("relay heartbeat")),
      list: sql<Row>`SELECT *, (extract(epoch FROM now() - last_seen) * 1000)::float8 AS ago
          FROM ${relays} ORDER BY last_seen DESC, relay_id`.withoutTransform.pipe(
        Effect.map((rows) =>
          rows.map((row): Relay => ({
            relayId: row.relay_id,
            host: row.host,
            pid: row.pid,
            claimMode: row.claim_mode,
            batchSize: row.batch_size,
            concurrency: row.concurrency,
            ordered: row.ordered,
            state: row.state,
            startedAt: row.started_at,
            lastBatchAt: row.last_batch_at,
            sent: Number(row.sent),
            retried: Number(row.retried),
            deadLettered: Number(row.dead_lettered),
            lastSeen: row.last_seen,
            lastSeenSecondsAgo: Math.max(0, Math.round(row.ago / 1000))
          }))
        ),
        refail("list relays")
      ),
      removeStale: (olderThan) =>
        sql<{ relay_id: string }>`DELETE FROM ${relays}
          WHERE last_seen < now() - ${millis(olderThan)} * interval '1 millisecond' RETURNING relay_id`.withoutTransform
          .pipe(Effect.map((rows) => rows.length), refail("remove stale relays")),
      remove: (relayId) =>
        sql`DELETE FROM ${relays} WHERE relay_id = ${relayId}`.withoutTransform.pipe(Effect.asVoid, refail("remove relay"))
    })
  })

/**
 * The registry as a layer, on the `SqlClient` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Migrations.Options = {}): Layer.Layer<RelayRegistry, OutboxStoreError, SqlClient.SqlClient> =>
  Layer.effect(RelayRegistry, make(options))
