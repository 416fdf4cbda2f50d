import { PgliteClient } from "@effect-outbox/pglite"
import { Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import type * as SqlStoreScenarios from "@effect-outbox/test-support/SqlStoreScenarios"
import { SqlClient } from "@effect/sql"
import { afterAll } from "@effect/vitest"
import { Effect, Layer, ManagedRuntime } from "effect"

/**
 * One PGlite instance for the calling test file (starting one takes seconds),
 * disposed after its tests; each test gets a schema of its own.
 */
export const sharedDatabase = () => {
  const database = ManagedRuntime.make(PgliteClient.layer())
  afterAll(() => database.dispose())
  return Layer.effectContext(Effect.map(database.runtimeEffect, (runtime) => runtime.context))
}

/** PGlite's LISTEN, for the store's wake-ups. */
export const listen = Layer.unwrapEffect(
  Effect.map(PgliteClient.PgliteClient, (client) => Notifications.layerFrom(client.listen))
)

/**
 * How the relay-over-SQL scenarios reach PGlite: one in-process session, so
 * every relay "process" shares it, with PGlite's LISTEN for wake-ups.
 */
export const harness = (
  database: Layer.Layer<SqlClient.SqlClient | PgliteClient.PgliteClient, unknown>
): SqlStoreScenarios.Harness<PgliteClient.PgliteClient> => ({
  database,
  relayStore: (schema) => SqlOutboxStore.layer({ schema, migrate: false }).pipe(Layer.provide(listen)),
  listening: (schema) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.map(sql<{ channel: string }>`SELECT pg_listening_channels() AS channel`, (rows) =>
        rows.some((row) => row.channel === `${schema}.outbox`)))
})
