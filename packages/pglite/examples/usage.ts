/**
 * The PGlite driver in use: plain `@effect/sql` code on the embedded database,
 * a transaction, and LISTEN/NOTIFY.
 *
 *   npm run build && npx tsx packages/pglite/examples/usage.ts
 */
// #region readme-pglite-usage
import { PgliteClient } from "@effect-outbox/pglite"
import { SqlClient } from "@effect/sql"
import { Effect, Stream } from "effect"

const program = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, total numeric NOT NULL)`

  const client = yield* PgliteClient.PgliteClient
  const created = yield* client.listenScoped("order_created") // LISTEN has run when this returns

  // One transaction: other fibers' statements wait until it ends.
  const [order] = yield* sql.withTransaction(Effect.gen(function*() {
    const rows = yield* sql<{ id: string; total: string }>`
      INSERT INTO orders ${sql.insert({ total: 42 })} RETURNING id, total`
    yield* client.notify("order_created", rows[0]?.id ?? "") // heard on commit, never on rollback
    return rows
  }))

  const [heard] = yield* created.pipe(Stream.take(1), Stream.runCollect)
  // int8 and numeric come back as strings, as with node-pg: { id: "1", total: "42" }
  yield* Effect.log("order", order, "notified", heard)
})

// In memory; `PgliteClient.layer({ dataDir: "./data" })` keeps the database on disk.
const main = program.pipe(Effect.scoped, Effect.provide(PgliteClient.layer()))
// #endregion

Effect.runPromise(main)
