import { StoreContract } from "@effect-outbox/core/testing"
import { SqlOutboxStore } from "@effect-outbox/sql"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { listen, sharedDatabase } from "./pglite.js"

// The Postgres store, unchanged, on the embedded database: the same SQL passes
// the same contract. One PGlite instance serves the file; each test gets a
// fresh schema, dropped afterwards.
const database = sharedDatabase()

let schemas = 0
const storeLayer = (options: Omit<SqlOutboxStore.Options, "schema"> = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const schema = `contract_${++schemas}`
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
    )
    return SqlOutboxStore.layer({ ...options, schema }).pipe(Layer.provide(listen))
  })).pipe(Layer.provide(database))

StoreContract.run("SqlOutboxStore on PGlite", { layer: storeLayer(), clock: "live", transactional: true, ackAndClaim: true })
StoreContract.run("SqlOutboxStore on PGlite, keeping sent rows", {
  layer: storeLayer({ retainSent: "1 hour" }),
  clock: "live",
  transactional: true,
  ackAndClaim: true
})
