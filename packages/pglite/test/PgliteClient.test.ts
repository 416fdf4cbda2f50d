import { PgliteClient } from "@effect-outbox/pglite"
import { SqlClient } from "@effect/sql"
import { assert, describe, expect, it, layer } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Config,
  ConfigError,
  ConfigProvider,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  Stream,
  String as Str,
  Tracer
} from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"

// Every wait on a real event is bounded by this deadline; none is a fixed sleep.
const deadline = "10 seconds"

// Each test works in a schema of its own, dropped afterwards, so the tests share
// one PGlite instance (starting one takes seconds) without seeing each other.
let schemas = 0
const freshSchema = Effect.acquireRelease(
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const name = `pglite_test_${++schemas}`
    yield* sql`CREATE SCHEMA ${sql(name)}`
    return name
  }),
  (name) => Effect.orDie(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA ${sql(name)} CASCADE`))
)

/** A fresh `items(id bigserial, v text)` table in a fresh schema; returns its qualified name. */
const itemsTable = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const table = `${yield* freshSchema}.items`
  yield* sql`CREATE TABLE ${sql(table)} (id bigserial PRIMARY KEY, v text NOT NULL)`
  return table
})

const values = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ v: string }>`SELECT v FROM ${sql(table)} ORDER BY id`).pipe(
    Effect.map((rows) => rows.map((row) => row.v))
  )

layer(PgliteClient.layer(), { excludeTestServices: true, timeout: "60 seconds" })("PgliteClient", (it) => {
  it.scoped("runs statements with $n parameters, sql.in and sql.update", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = yield* itemsTable
      yield* sql`INSERT INTO ${sql(table)} (v) VALUES (${"a"}), (${"b"}), (${"c"})`

      const statement = sql`SELECT v FROM ${sql(table)} WHERE v IN ${sql.in(["a", "c"])} ORDER BY v`
      expect(statement.compile()).toEqual([`SELECT v FROM "${table.replace(".", "\".\"")}" WHERE v IN ($1,$2) ORDER BY v`, [
        "a",
        "c"
      ]])
      expect(yield* statement).toEqual([{ v: "a" }, { v: "c" }])

      yield* sql`UPDATE ${sql(table)} SET ${sql.update({ v: "B" })} WHERE v = ${"b"}`
      expect(yield* values(table)).toEqual(["a", "B", "c"])
    }))

  it.scoped("returns row shapes like node-pg: int8 and numeric as strings, dates as Date", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = yield* itemsTable
      yield* sql`INSERT INTO ${sql(table)} (v) VALUES ('x')`
      const [row] = yield* sql`
        SELECT
          (SELECT id FROM ${sql(table)}) AS id,
          (SELECT count(*) FROM ${sql(table)}) AS count,
          9007199254740993::int8 AS big,
          ARRAY[1, 2]::int8[] AS bigs,
          7::int4 AS int,
          1.50::numeric AS numeric,
          true AS bool,
          '2024-05-06T07:08:09.123Z'::timestamptz AS at,
          ARRAY['a', 'b'] AS texts`
      expect(row).toEqual({
        id: "1",
        count: "1",
        big: "9007199254740993",
        bigs: ["1", "2"],
        int: 7,
        numeric: "1.50",
        bool: true,
        at: new Date("2024-05-06T07:08:09.123Z"),
        texts: ["a", "b"]
      })
    }))

  it.scoped("round-trips json and jsonb, and binds JS arrays as Postgres arrays", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const client = yield* PgliteClient.PgliteClient
      const schema = yield* freshSchema
      const table = `${schema}.docs`
      yield* sql`CREATE TABLE ${sql(table)} (id bigserial PRIMARY KEY, body jsonb NOT NULL, meta json)`
      const body = { order: { id: 42, lines: [{ sku: "a", qty: 2 }] }, note: "ü \"quoted\"", none: null }

      const inserted = yield* sql<{ id: string }>`
        INSERT INTO ${sql(table)} (body, meta) VALUES (${body}, ${client.json([1, "two"])}), (${
        JSON.stringify(["as", "text"])
      }, NULL)
        RETURNING id`
      const rows = yield* sql`SELECT body, meta FROM ${sql(table)} WHERE id = ANY(${inserted.map((_) => _.id)}::bigint[]) ORDER BY id`
      expect(rows).toEqual([{ body, meta: [1, "two"] }, { body: ["as", "text"], meta: null }])
    }))

  it.scoped("sql.insert writes several rows in one statement", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = yield* itemsTable
      const statement = sql`INSERT INTO ${sql(table)} ${sql.insert([{ v: "x" }, { v: "y" }, { v: "z" }])} RETURNING id, v`
      expect(statement.compile()[0]).toContain("(\"v\") VALUES ($1),($2),($3)")
      expect(yield* statement).toEqual([{ id: "1", v: "x" }, { id: "2", v: "y" }, { id: "3", v: "z" }])
    }))

  it.scoped("values, raw and multi-statement strings behave as with node-pg", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const schema = yield* freshSchema
      // A migration-style string of several statements, without parameters.
      yield* sql.unsafe(`CREATE TABLE ${schema}.a (n int); INSERT INTO ${schema}.a VALUES (1), (2);`)
      expect(yield* sql`SELECT n, n * 10 AS m FROM ${sql(`${schema}.a`)} ORDER BY n`.values).toEqual([[1, 10], [2, 20]])
      const raw = yield* sql`DELETE FROM ${sql(`${schema}.a`)} WHERE n = ${1}`.raw
      expect(raw).toMatchObject({ command: "DELETE", affectedRows: 1 })
    }))

  it.scoped("withTransaction commits on success and leaves nothing on failure", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = yield* itemsTable
      yield* sql.withTransaction(sql`INSERT INTO ${sql(table)} (v) VALUES ('kept')`)
      const failed = yield* sql.withTransaction(
        Effect.zipRight(sql`INSERT INTO ${sql(table)} (v) VALUES ('dropped')`, Effect.fail("business rule" as const))
      ).pipe(Effect.flip)
      expect(failed).toBe("business rule")
      expect(yield* values(table)).toEqual(["kept"])
    }))

  it.scoped("a nested transaction rolls back only its savepoint", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = yield* itemsTable
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${sql(table)} (v) VALUES ('outer before')`
        yield* sql.withTransaction(
          Effect.zipRight(sql`INSERT INTO ${sql(table)} (v) VALUES ('inner')`, Effect.fail("inner failed"))
        ).pipe(Effect.ignore)
        yield* sql`INSERT INTO ${sql(table)} (v) VALUES ('outer after')`
      }))
      expect(yield* values(table)).toEqual(["outer before", "outer after"])
    }))

  it.scoped("a transaction whose failed statement was caught does not pass for committed", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = yield* itemsTable
      const exit = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${sql(table)} (v) VALUES ('lost')`
        yield* sql`SELECT * FROM ${sql(table)} WHERE id = ${"not a number"}`.pipe(Effect.ignore)
      })).pipe(Effect.exit)
      assert(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      expect(Cause.pretty(exit.cause)).toContain("COMMIT rolled the transaction back")
      expect(yield* values(table)).toEqual([])
    }))

  it.scoped("another fiber's statement waits for an open transaction instead of running inside it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = yield* itemsTable
      const transactionOpen = yield* Deferred.make<void>()
      const otherStarted = yield* Deferred.make<void>()
      const events = yield* Ref.make<ReadonlyArray<string>>([])

      // Forked outside the transaction, so it does not inherit it.
      const other = yield* Effect.fork(Effect.gen(function*() {
        yield* Deferred.await(transactionOpen)
        yield* Deferred.succeed(otherStarted, undefined)
        const rows = yield* sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(table)}`
        yield* Ref.update(events, (_) => [..._, "other statement done"])
        return rows
      }))

      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${sql(table)} (v) VALUES ('uncommitted')`
        yield* Deferred.succeed(transactionOpen, undefined)
        yield* Deferred.await(otherStarted)
        // Had the other statement not waited, PGlite would have queued it before this one.
        yield* sql`SELECT 1`
        yield* Ref.update(events, (_) => [..._, "transaction rolling back"])
        return yield* Effect.fail("roll back")
      })).pipe(Effect.ignore)

      // It ran after the rollback: it never saw the uncommitted row.
      expect(yield* Fiber.join(other)).toEqual([{ n: "0" }])
      expect(yield* Ref.get(events)).toEqual(["transaction rolling back", "other statement done"])
    }))

  it.scoped("a fiber issuing statements back to back does not starve another", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const stop = yield* Deferred.make<void>()
      const busy = yield* Effect.fork(
        sql`SELECT 1`.pipe(Effect.zipRight(Deferred.isDone(stop)), Effect.repeat({ until: (done) => done }))
      )
      const rows = yield* sql`SELECT 2 AS n`.pipe(
        Effect.timeoutFail({ duration: deadline, onTimeout: () => "starved" })
      )
      yield* Deferred.succeed(stop, undefined)
      yield* Fiber.join(busy)
      expect(rows).toEqual([{ n: 2 }])
    }))

  it.scoped("statements interrupted while waiting for the session leave it usable", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const opened = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const transaction = yield* Effect.fork(sql.withTransaction(
        Effect.zipRight(Deferred.succeed(opened, undefined), Deferred.await(finish))
      ))
      yield* Deferred.await(opened)
      const waitingStatement = yield* Effect.fork(sql`SELECT 1`)
      const waitingTransaction = yield* Effect.fork(sql.withTransaction(sql`SELECT 1`))
      for (const fiber of [waitingStatement, waitingTransaction]) {
        yield* Fiber.status(fiber).pipe(Effect.repeat({ until: (status) => status._tag === "Suspended" }))
        yield* Fiber.interrupt(fiber).pipe(
          Effect.timeoutFail({ duration: deadline, onTimeout: () => "the wait for the session is not interruptible" })
        )
      }
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(transaction)
      const rows = yield* sql`SELECT 3 AS n`.pipe(
        Effect.timeoutFail({ duration: deadline, onTimeout: () => "session lock leaked" })
      )
      expect(rows).toEqual([{ n: 3 }])
    }))

  it.scoped("streams rows, and other statements run while the stream is consumed", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const seen = yield* sql<{ n: number }>`SELECT generate_series(1, ${1000}) AS n`.stream.pipe(
        Stream.mapEffect((row) => row.n % 250 === 0 ? Effect.as(sql`SELECT 1`, row.n) : Effect.succeed(row.n)),
        Stream.runCollect
      )
      expect(Chunk.size(seen)).toBe(1000)
      expect(Chunk.last(seen)).toEqual(Option.some(1000))
    }))

  it.scoped("listen hears a notification sent in a transaction on commit, and never one rolled back", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const client = yield* PgliteClient.PgliteClient
      const channel = "Outbox-Wakeup.test" // case and punctuation kept, as with pg_notify
      const heard = yield* client.listenScoped(channel)
      const received = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.forkScoped(Stream.runForEach(heard, (payload) => Ref.update(received, (_) => [..._, payload])))

      yield* sql.withTransaction(
        Effect.zipRight(client.notify(channel, "rolled back"), Effect.fail("abort"))
      ).pipe(Effect.ignore)
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* client.notify(channel, "committed")
        yield* sql`SELECT 1`
        // Not delivered before COMMIT (Postgres holds it until then).
        expect(yield* Ref.get(received)).toEqual([])
      }))
      yield* client.notify(channel, "")

      // Notifications arrive in order, so had the rolled-back one been sent it would come first.
      const all = yield* Ref.get(received).pipe(
        Effect.repeat({ until: (_) => _.length >= 2 }),
        Effect.timeoutFail({ duration: deadline, onTimeout: () => "no notification in time" })
      )
      expect(all).toEqual(["committed", ""])
    }))

  it.scoped("listen releases its LISTEN when the stream ends", () =>
    Effect.gen(function*() {
      const client = yield* PgliteClient.PgliteClient
      const first = yield* Effect.fork(client.listen("stop_test").pipe(Stream.take(1), Stream.runCollect))
      // LISTEN runs when the stream starts: notify until it is heard.
      yield* client.notify("stop_test", "hello").pipe(
        Effect.zipRight(Fiber.poll(first)),
        Effect.repeat({ until: Option.isSome }),
        Effect.timeoutFail({ duration: deadline, onTimeout: () => "not heard in time" })
      )
      expect(Chunk.toReadonlyArray(yield* Fiber.join(first))).toContain("hello")
      const [listening] = yield* client<{ channels: ReadonlyArray<string> }>`
        SELECT coalesce(array_agg(c), '{}') AS channels FROM pg_listening_channels() AS c`
      expect(listening?.channels).not.toContain("stop_test")
    }))

  it.effect("listen refuses a channel name it could not match", () =>
    Effect.gen(function*() {
      const client = yield* PgliteClient.PgliteClient
      const error = yield* client.listen("a\"b").pipe(Stream.runDrain, Effect.flip)
      expect(error.message).toContain("channel names with a double quote are not supported")
    }))

  it.scoped("advisory locks work (re-entrant: every fiber shares the one session)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const heldLocks = sql<{ n: string }>`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'`
      expect(yield* sql`SELECT pg_try_advisory_lock(${7001}) AS locked`).toEqual([{ locked: true }])
      expect(yield* heldLocks).toEqual([{ n: "1" }])
      expect(yield* sql`SELECT pg_try_advisory_lock(${7001}) AS locked`).toEqual([{ locked: true }])
      expect(yield* sql`SELECT pg_advisory_unlock(${7001}) AS a, pg_advisory_unlock(${7001}) AS b`).toEqual([{
        a: true,
        b: true
      }])
      expect(yield* heldLocks).toEqual([{ n: "0" }])
      yield* sql.withTransaction(Effect.gen(function*() {
        expect(yield* sql`SELECT pg_try_advisory_xact_lock(${7002}) AS locked`).toEqual([{ locked: true }])
        expect(yield* heldLocks).toEqual([{ n: "1" }])
      }))
      expect(yield* heldLocks).toEqual([{ n: "0" }])
    }))

  it.scoped("a FOR UPDATE SKIP LOCKED claim runs", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = yield* itemsTable
      yield* sql`INSERT INTO ${sql(table)} ${sql.insert(["a", "b", "c"].map((v) => ({ v })))}`
      const claim = sql<{ id: string }>`
        DELETE FROM ${sql(table)} WHERE id IN (
          SELECT id FROM ${sql(table)} ORDER BY id LIMIT ${2} FOR UPDATE SKIP LOCKED
        ) RETURNING id`
      expect(yield* sql.withTransaction(claim)).toEqual([{ id: "1" }, { id: "2" }])
      expect(yield* claim).toEqual([{ id: "3" }])
      expect(yield* claim).toEqual([])
    }))

  it.scoped("an SQL error becomes a SqlError naming the problem, without the bound values", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* sql`SELECT * FROM no_such_table WHERE token = ${"s3cret-token"}`.pipe(Effect.flip)
      expect(error._tag).toBe("SqlError")
      expect(error.message).toBe("Failed to execute statement: relation \"no_such_table\" does not exist (SQLSTATE 42P01)")
      expect(error.cause).toMatchObject({ code: "42P01" })
      expect(inspect(error, { depth: 10 })).not.toContain("s3cret-token")
    }))

  it.scoped("statements and transactions carry the pg driver's span attributes", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const spans: Array<Tracer.Span> = []
      yield* Effect.tracerWith((tracer) =>
        sql.withTransaction(sql`SELECT 1`).pipe(Effect.withTracer(Tracer.make({
          span: (...args) => {
            const span = tracer.span(...args)
            spans.push(span)
            return span
          },
          context: tracer.context
        })))
      )
      const execute = spans.find((span) => span.name === "sql.execute")
      const transaction = spans.find((span) => span.name === "sql.transaction")
      expect(execute?.attributes.get("db.system.name")).toBe("postgresql")
      expect(execute?.attributes.get("db.query.text")).toBe("SELECT 1")
      expect(transaction?.attributes.get("db.system.name")).toBe("postgresql")
    }))
})

layer(
  PgliteClient.layer({ transformResultNames: Str.snakeToCamel, transformQueryNames: Str.camelToSnake }),
  { excludeTestServices: true, timeout: "60 seconds" }
)("PgliteClient with name transforms", (it) => {
  it.scoped("renames columns both ways", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = `${yield* freshSchema}.orders`
      yield* sql`CREATE TABLE ${sql(table)} (order_id int, created_by text)`
      yield* sql`INSERT INTO ${sql(table)} ${sql.insert({ orderId: 1, createdBy: "ann" })}`
      expect(yield* sql`SELECT * FROM ${sql(table)}`).toEqual([{ orderId: 1, createdBy: "ann" }])
      expect(yield* sql.withoutTransforms()`SELECT * FROM ${sql(table)}`).toEqual([{ order_id: 1, created_by: "ann" }])
    }))
})

/** A fresh temporary directory, removed when the scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "pglite-client-test-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

describe("PgliteClient with a data directory", () => {
  it.live("keeps what was committed across close and reopen", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const session = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
        Effect.provide(effect, PgliteClient.layer({ dataDir }))

      yield* session(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE kept (id bigserial PRIMARY KEY, payload jsonb NOT NULL)`
        yield* sql.withTransaction(sql`INSERT INTO kept (payload) VALUES (${{ n: 1 }}), (${{ n: 2 }})`)
        yield* sql.withTransaction(
          Effect.zipRight(sql`INSERT INTO kept (payload) VALUES (${{ n: 3 }})`, Effect.fail("rolled back"))
        ).pipe(Effect.ignore)
      }))

      const rows = yield* session(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT id, payload FROM kept ORDER BY id`))
      expect(rows).toEqual([{ id: "1", payload: { n: 1 } }, { id: "2", payload: { n: 2 } }])
    }).pipe(Effect.scoped), 60_000)

  it.live("opens a directory for one instance at a time, taking over a lock left by a crash", () =>
    Effect.gen(function*() {
      const dataDir = yield* tempDir
      const lockFile = join(dataDir, "pglite.lock")
      const open = Layer.build(PgliteClient.layer({ dataDir })).pipe(Effect.scoped, Effect.flip)

      // A lock held by a process that runs (this test's parent) keeps the directory.
      writeFileSync(lockFile, String(process.ppid))
      expect((yield* open).message).toContain(`is in use by process ${process.ppid}`)

      // A lock left by a process that has exited is taken over.
      writeFileSync(lockFile, String(spawnSync(process.execPath, ["-e", ""]).pid))
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        expect(yield* sql`SELECT 1 AS n`).toEqual([{ n: 1 }])
        // A second instance in this process would corrupt the open one.
        expect((yield* open).message).toContain("is already open in this process")
      }).pipe(Effect.provide(PgliteClient.layer({ dataDir })))

      // Closing released the lock.
      expect(existsSync(lockFile)).toBe(false)
    }).pipe(Effect.scoped), 60_000)
})

describe("PgliteClient.layerConfig", () => {
  it.live("reads its settings through Config, failing before opening anything when one is missing", () =>
    Effect.gen(function*() {
      const layer = PgliteClient.layerConfig({ dataDir: Config.string("PGLITE_TEST_DATA_DIR") })
      const missing = yield* Layer.build(layer).pipe(Effect.scoped, Effect.flip)
      assert(ConfigError.isConfigError(missing))
      expect(String(missing)).toContain("PGLITE_TEST_DATA_DIR")

      const dataDir = yield* tempDir
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE configured (n int)`).pipe(
        Effect.provide(layer),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["PGLITE_TEST_DATA_DIR", dataDir]])))
      )
      expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(true)
    }).pipe(Effect.scoped), 60_000)
})
