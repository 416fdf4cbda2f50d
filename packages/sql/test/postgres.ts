import { OutboxStore } from "@effect-outbox/core"
import { Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Random, Redacted } from "effect"

/** The test database: the local server unless OUTBOX_TEST_DATABASE_URL says otherwise. */
export const databaseUrl = process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** A connection pool to the test database. Building it fails (never skips) when Postgres is down. */
export const pgLayer = (maxConnections = 4) =>
  PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections, applicationName: "effect-outbox-test" })

/** A fresh, unique schema name (dropped by `freshSchema`'s finalizer). */
export const schemaName = Effect.map(Random.nextIntBetween(0, 2 ** 31), (n) => `t_${n.toString(36)}_${process.pid}`)

/** Creates nothing, but drops the schema (and everything in it) when the scope closes. */
export const dropOnClose = (schema: string) =>
  Effect.addFinalizer(() =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
  )

/** A migrated SQL store in its own schema, with push wake-ups, on its own pool. */
export const storeLayer = (options: Omit<SqlOutboxStore.Options, "schema"> = {}) =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const schema = yield* schemaName
      yield* dropOnClose(schema)
      return SqlOutboxStore.layer({ ...options, schema }).pipe(Layer.provide(Notifications.layerPg))
    })
  ).pipe(Layer.provideMerge(pgLayer()))

export type StoreEnv = OutboxStore.OutboxStore | PgClient.PgClient | SqlClient.SqlClient
