import { Leadership, Relay, Sender } from "@effect-outbox/core"
import { Drain } from "@effect-outbox/core/testing"
import { Migrations, Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlStoreScenarios from "@effect-outbox/test-support/SqlStoreScenarios"
import { Duration, Effect, Layer, Random, Redacted } from "effect"

/** The test database: the local server unless OUTBOX_TEST_DATABASE_URL says otherwise. */
export const databaseUrl = process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/**
 * A connection pool to the test database, named so tests can find (and
 * terminate) its connections. Building it fails, never skips, when Postgres is down.
 */
export const pgLayer = (applicationName = "effect-outbox-test", maxConnections = 4) =>
  PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections, applicationName })

/** A fresh, unique schema name. */
export const schemaName = Effect.map(Random.nextIntBetween(0, 2 ** 31), (n) => `t_${n.toString(36)}_${process.pid}`)

/** Drops the schema (and everything in it) when the scope closes. */
export const dropOnClose = (schema: string) =>
  Effect.addFinalizer(() =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
  )

/** A migrated schema of its own for one test, dropped at the end. */
export const migratedSchema = Effect.gen(function*() {
  const schema = yield* schemaName
  yield* dropOnClose(schema)
  yield* Migrations.run({ schema })
  return schema
})

/** A migrated SQL store in its own schema, with push wake-ups, on its own pool (for the contract suite). */
export const storeLayer = (options: Omit<SqlOutboxStore.Options, "schema"> = {}) =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const schema = yield* schemaName
      yield* dropOnClose(schema)
      return SqlOutboxStore.layer({ ...options, schema }).pipe(Layer.provide(Notifications.layerPg))
    })
  ).pipe(Layer.provideMerge(pgLayer()))

/** The store on an existing schema over its own named pool: one "relay process". */
export const storeOn = (schema: string, applicationName: string, options: Partial<SqlOutboxStore.Options> = {}) =>
  SqlOutboxStore.layer({ schema, migrate: false, ...options }).pipe(
    Layer.provide(Notifications.layerPg),
    Layer.provideMerge(pgLayer(applicationName))
  )

/** Inserts `count` ~200-byte messages in one statement. */
export const seed = (schema: string, count: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO ${sql(`${schema}.outbox`)} (topic, payload)
        SELECT 'order.created', jsonb_build_object('n', g, 'pad', repeat('x', 180)) FROM generate_series(1, ${count}) g`)

/** Terminates every server connection of a pool, as a crash or a network cut would. */
export const terminate = (applicationName: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${applicationName}`)

/** Runs a relay "process": its own pool and store, a given sender, until the scope closes. */
export const relayProcess = (
  schema: string,
  name: string,
  sender: Sender.Sender["Type"],
  options: Relay.Options = {},
  leadership: Layer.Layer<Leadership.Leadership, unknown> = Leadership.always
) =>
  Effect.forkScoped(
    Effect.scoped(Relay.run(options)).pipe(
      Effect.provideService(Sender.Sender, sender),
      Effect.provide(leadership),
      Effect.provide(storeOn(schema, name))
    )
  )

/** Waits until the schema's outbox has nothing pending or in flight. */
export const drained = (schema: string, seconds = 30) =>
  Drain.untilDrained({ timeout: Duration.seconds(seconds) }).pipe(
    Effect.provide(SqlOutboxStore.layer({ schema, migrate: false }))
  )

/**
 * How the relay-over-SQL scenarios reach Postgres: each relay process on a pool
 * of its own, named after it, with push wake-ups on a LISTEN connection.
 */
export const harness: SqlStoreScenarios.Harness<PgClient.PgClient> = {
  database: pgLayer("effect-outbox-test", 8),
  relayStore: (schema, name) => storeOn(schema, name),
  listening: (_schema, name) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.map(
        sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity
          WHERE application_name = ${`${name}:listen`} AND query LIKE 'LISTEN%'`,
        (rows) => Number(rows[0]?.n) === 1
      ))
}
