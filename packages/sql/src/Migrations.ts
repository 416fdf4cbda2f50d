/**
 * The outbox's tables, created by `@effect/sql`'s Migrator under the
 * configured schema and table prefix, with their own migrations table.
 * Migrations are append-only: a released migration is never edited.
 *
 * Running them is idempotent and safe when several processes start at once:
 * the whole run holds a transaction-scoped advisory lock.
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { OutboxStoreError } from "@effect-outbox/core/OutboxStore"
import { refail } from "./internal/errors.js"
import * as Tables from "./internal/tables.js"

/**
 * Where the tables live.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Default "public". Created when missing. */
  readonly schema?: string | undefined
  /** Default "outbox": tables `<prefix>`, `<prefix>_dead_letters`, `<prefix>_inbox`, `<prefix>_migrations`. */
  readonly tablePrefix?: string | undefined
}

const migrations = (tables: Tables.Tables) => ({
  "1_create_outbox": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TABLE ${sql(tables.outbox)} (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        key text,
        payload jsonb NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        available_at timestamptz NOT NULL DEFAULT now(),
        locked_until timestamptz,
        locked_by text,
        last_error text,
        sent_at timestamptz
      )`.withoutTransform,
      // Serves the claim: unsent rows in id order. With `retainSent` it skips the
      // sent rows the primary key would wade through.
      sql`CREATE INDEX ${sql(`${tables.prefix}_claimable`)} ON ${sql(tables.outbox)} (id) WHERE sent_at IS NULL`
        .withoutTransform,
      sql`CREATE INDEX ${sql(`${tables.prefix}_sent`)} ON ${sql(tables.outbox)} (sent_at) WHERE sent_at IS NOT NULL`
        .withoutTransform,
      sql`CREATE TABLE ${sql(tables.deadLetters)} (
        id bigint PRIMARY KEY,
        topic text NOT NULL,
        key text,
        payload jsonb NOT NULL,
        headers jsonb NOT NULL,
        attempts integer NOT NULL,
        created_at timestamptz NOT NULL,
        available_at timestamptz NOT NULL,
        reason text NOT NULL,
        last_error text NOT NULL,
        dead_at timestamptz NOT NULL DEFAULT now()
      )`.withoutTransform,
      sql`CREATE TABLE ${sql(tables.inbox)} (
        message_id text PRIMARY KEY,
        processed_at timestamptz NOT NULL DEFAULT now()
      )`.withoutTransform
    ], { discard: true })),
  // Ordered delivery: the index answers "is there an earlier unsettled message of
  // this key" with one probe; dead letters remember whether they park their key.
  "2_ordered_keys": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE INDEX ${sql(`${tables.prefix}_key_order`)} ON ${sql(tables.outbox)} (key, id)
          WHERE sent_at IS NULL AND key IS NOT NULL`.withoutTransform,
      sql`ALTER TABLE ${sql(tables.deadLetters)} ADD COLUMN parks_key boolean NOT NULL DEFAULT false`.withoutTransform,
      sql`CREATE INDEX ${sql(`${tables.prefix}_parked_keys`)} ON ${sql(tables.deadLetters)} (key)
          WHERE parks_key`.withoutTransform
    ], { discard: true })),
  // Ordered delivery: an ordered claim writes `held_key` on the heads it leases
  // (kept while a head waits for its retry), so a claim can set aside, in one
  // lookup of this small index, every key whose head is in flight or waiting.
  // Unordered claims never write it: keyed traffic without ordering pays nothing.
  "3_held_keys": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`ALTER TABLE ${sql(tables.outbox)} ADD COLUMN held_key text`.withoutTransform,
      sql`CREATE INDEX ${sql(`${tables.prefix}_held_keys`)} ON ${sql(tables.outbox)} (held_key)
          WHERE held_key IS NOT NULL AND sent_at IS NULL`.withoutTransform
    ], { discard: true })),
  // Claims lost to crashes (a lease that expired unsettled) are counted apart from
  // failed sends: `attempts` now counts failed sends only (written by completion,
  // not by the claim), so killing relays no longer spends the retry policy of the
  // messages they held. Rows in flight while this runs count their current
  // delivery once more when it fails.
  "4_lost_claims": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`ALTER TABLE ${sql(tables.outbox)} ADD COLUMN lost_claims integer NOT NULL DEFAULT 0`.withoutTransform,
      sql`ALTER TABLE ${sql(tables.deadLetters)} ADD COLUMN lost_claims integer NOT NULL DEFAULT 0`.withoutTransform
    ], { discard: true })),
  // Due-time wake-ups: an idle relay asks when the next unsent row comes due
  // (`min(available_at)` past now), one descent of this index instead of a scan
  // of every waiting retry or delayed message.
  "5_due_index": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`CREATE INDEX ${sql(`${tables.prefix}_due`)} ON ${sql(tables.outbox)} (available_at)
        WHERE sent_at IS NULL`.withoutTransform),
  // Relays announce themselves here (see RelayHeartbeats): one row per running
  // relay process, rewritten every few seconds and deleted once stale.
  "6_relay_heartbeats": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`CREATE TABLE ${sql(tables.relays)} (
      relay_id text PRIMARY KEY,
      host text NOT NULL,
      pid integer NOT NULL,
      claim_mode text NOT NULL,
      batch_size integer NOT NULL,
      concurrency integer NOT NULL,
      ordered text NOT NULL,
      started_at timestamptz NOT NULL,
      last_batch_at timestamptz,
      sent bigint NOT NULL DEFAULT 0,
      retried bigint NOT NULL DEFAULT 0,
      dead_lettered bigint NOT NULL DEFAULT 0,
      state text NOT NULL,
      last_seen timestamptz NOT NULL DEFAULT now()
    )`.withoutTransform)
})

/**
 * Runs pending migrations; returns the ones it applied (none when up to date).
 *
 * @category operations
 * @since 0.1.0
 */
export const run = Effect.fn("Migrations.run")(function*(options: Options = {}) {
  const tables = yield* Tables.resolve(options)
  const sql = yield* SqlClient.SqlClient
  const migrate = Migrator.make({})({
    loader: Migrator.fromRecord(migrations(tables)),
    table: tables.migrations
  })
  return yield* sql.withTransaction(
    Effect.gen(function*() {
      // Serialises concurrent runs (also the CREATE SCHEMA and the migrations
      // table creation, which the Migrator does before its own lock).
      yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`effect-outbox:migrate:${tables.migrations}`}))`.withoutTransform
      yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(tables.schema)}`.withoutTransform
      // The Migrator probes for its table with a query that fails when it is missing,
      // which would abort this transaction: create it first, in the Migrator's shape.
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(tables.migrations)} (
        migration_id integer PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now(),
        name text NOT NULL
      )`.withoutTransform
      return yield* migrate
    })
  ).pipe(
    Effect.catchTag("MigrationError", (error) =>
      Effect.fail(new OutboxStoreError({ operation: "migrate", cause: error, detail: error.message }))),
    refail("migrate")
  )
})
