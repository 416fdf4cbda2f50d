import { PgliteClient } from "@effect-outbox/pglite"
import { StoreContract } from "@effect-outbox/core/testing"
import { Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import { SqlClient } from "@effect/sql"
import { afterAll } from "@effect/vitest"
import { Effect, Layer, ManagedRuntime } from "effect"

// The Postgres store, unchanged, on the embedded database: the same SQL passes
// the same contract. One PGlite instance serves the file (starting one takes
// seconds); each test gets a fresh schema, dropped afterwards.
const database = ManagedRuntime.make(PgliteClient.layer())
afterAll(() => database.dispose())
const sharedDatabase = Layer.effectContext(Effect.map(database.runtimeEffect, (runtime) => runtime.context))

let schemas = 0
const storeLayer = (options: Omit<SqlOutboxStore.Options, "schema"> = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const schema = `contract_${++schemas}`
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
    )
    const client = yield* PgliteClient.PgliteClient
    return SqlOutboxStore.layer({ ...options, schema }).pipe(Layer.provide(Notifications.layerFrom(client.listen)))
  })).pipe(Layer.provide(sharedDatabase))

StoreContract.run("SqlOutboxStore on PGlite", { layer: storeLayer(), clock: "live", transactional: true, ackAndClaim: true })
StoreContract.run("SqlOutboxStore on PGlite, keeping sent rows", {
  layer: storeLayer({ retainSent: "1 hour" }),
  clock: "live",
  transactional: true,
  ackAndClaim: true
})
