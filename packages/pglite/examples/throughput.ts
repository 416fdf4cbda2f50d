/**
 * Statement throughput of the PGlite driver against PGlite called directly, in
 * the same process and run: the ratio is what the Effect client (session lock,
 * span, compiler, result mapping) costs per statement. Not a test: timings
 * depend on the machine.
 *
 *   npm run build && npx tsx packages/pglite/examples/throughput.ts
 */
import { PgliteClient } from "@effect-outbox/pglite"
import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"

const iterations = 5_000
const warmUp = 500

interface Case {
  readonly name: string
  readonly direct: (i: number) => Promise<unknown>
  readonly client: (i: number) => Effect.Effect<unknown, unknown>
}

/** Statements per second over `count` sequential runs of `step`. */
const rate = (count: number, step: (i: number) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeNanos
    for (let i = 0; i < count; i++) yield* step(i)
    const seconds = Number((yield* Clock.currentTimeNanos) - start) / 1e9
    return count / seconds
  })

const program = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const { pglite: db } = yield* PgliteClient.PgliteClient
  yield* sql`CREATE TABLE bench (id bigserial PRIMARY KEY, payload jsonb NOT NULL)`
  const payload = { order: 42, lines: [{ sku: "a-1", qty: 2 }], note: "x".repeat(120) }

  const cases: ReadonlyArray<Case> = [
    {
      name: "SELECT $1",
      direct: (i) => db.query("SELECT $1::int AS n", [i]),
      client: (i) => sql`SELECT ${i}::int AS n`
    },
    {
      name: "INSERT (autocommit)",
      direct: () => db.query("INSERT INTO bench (payload) VALUES ($1)", [payload]),
      client: () => sql`INSERT INTO bench (payload) VALUES (${payload})`
    },
    {
      name: "BEGIN; INSERT; pg_notify; COMMIT",
      direct: () =>
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO bench (payload) VALUES ($1)", [payload])
          await tx.query("SELECT pg_notify('bench', 'x')")
        }),
      client: () =>
        sql.withTransaction(Effect.zipRight(
          sql`INSERT INTO bench (payload) VALUES (${payload})`,
          sql`SELECT pg_notify('bench', 'x')`
        ))
    }
  ]

  console.log(`${iterations} sequential iterations per figure (after ${warmUp} to warm up), in-memory PGlite`)
  console.log("statement                        | PGlite direct | PgliteClient | ratio")
  for (const { client, direct, name } of cases) {
    const directStep = (i: number) => Effect.promise(() => direct(i))
    yield* rate(warmUp, directStep)
    yield* rate(warmUp, client)
    const directRate = yield* rate(iterations, directStep)
    const clientRate = yield* rate(iterations, client)
    console.log(
      `${name.padEnd(32)} | ${directRate.toFixed(0).padStart(9)}/s   | ${clientRate.toFixed(0).padStart(9)}/s  | ${
        (clientRate / directRate).toFixed(2)
      }`
    )
  }
})

Effect.runPromise(Effect.provide(program, PgliteClient.layer()))
