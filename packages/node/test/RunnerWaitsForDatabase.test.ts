import { Outbox, Topic } from "@effect-outbox/core"
import { Migrations, SqlOutboxStore } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schema, Scope } from "effect"
import { createServer, type Server } from "node:http"
import { eventuallyAsync } from "@effect-outbox/test-support/Eventually"
import * as TcpProxy from "@effect-outbox/test-support/TcpProxy"
import { runToEnd, start } from "./outboxProcess.js"

const databaseUrl = new URL(process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test")
const schema = `wait_${process.pid}`
const Pg = PgClient.layer({ url: Redacted.make(databaseUrl.href), maxConnections: 2 })
const runSql = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | PgClient.PgClient>) =>
  Effect.runPromise(Effect.provide(effect, Pg))

const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

afterAll(() => runSql(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`)))

const receiver = async () => {
  const received: Array<string> = []
  const server: Server = createServer((request, response) => {
    received.push(String(request.headers["webhook-id"]))
    request.resume()
    request.on("end", () => response.writeHead(204).end())
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return { url: `http://127.0.0.1:${port}/hooks`, received, close: () => server.close() }
}

const readyz = async (port: number) => {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`)
    return { status: response.status, body: await response.text() }
  } catch {
    return { status: 0, body: "" } // not serving yet
  }
}

describe("outbox run while Postgres is not there yet", () => {
  it("waits, not ready with the reason, then becomes ready and delivers once Postgres is reachable, without a restart", async () => {
    const hooks = await receiver()
    const [id] = await runSql(Effect.gen(function*() {
      yield* Migrations.run({ schema })
      return yield* Outbox.publishAll([{ topic: OrderCreated, payload: { n: 1 } }]).pipe(
        Effect.provide(Layer.provide(Outbox.layer, SqlOutboxStore.layer({ schema, migrate: false })))
      )
    }))
    // A stand-in for a Postgres that is down: it cuts every connection at once
    // (counting them) until it stops refusing, then forwards them to the test database.
    const proxyScope = Effect.runSync(Scope.make())
    const db = await Effect.runPromise(
      TcpProxy.make({ host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) }, { refusing: true }).pipe(
        Scope.extend(proxyScope)
      )
    )
    const httpPort = await Effect.runPromise(TcpProxy.freePort)
    // A password in the URL (trust auth ignores it): it must never be printed.
    const url = `postgres://postgres:hunter2-secret@127.0.0.1:${db.port}${databaseUrl.pathname}`
    const runner = start(["run"], {
      OUTBOX_DATABASE_URL: url,
      OUTBOX_SCHEMA: schema,
      OUTBOX_SENDER: hooks.url,
      OUTBOX_HTTP_PORT: String(httpPort)
    })
    try {
      await eventuallyAsync("/readyz to answer 503", async () => (await readyz(httpPort)).status === 503)
      const before = await readyz(httpPort)
      expect(JSON.parse(before.body).checks.store).toMatchObject({
        ok: false,
        detail: expect.stringContaining("waiting for the database")
      })
      // Several tries fail while it waits (backoff from 200 ms): one warning for all of them.
      await eventuallyAsync("four failed tries", () => db.accepted() >= 4)

      db.refuse(false)
      await eventuallyAsync("/readyz to answer 200", async () => (await readyz(httpPort)).status === 200)
      await eventuallyAsync("the waiting message to be delivered", () => hooks.received.includes(String(id)))
      expect(runner.child.exitCode).toBeNull() // the same process, never restarted

      const output = runner.output()
      expect(output.match(/waiting for the database \(retrying/g)).toHaveLength(1)
      expect(output).toContain("The database is reachable; the outbox is open")
      expect(output).not.toContain("hunter2")
      runner.child.kill("SIGTERM")
      expect(await runner.exited).toBe(0)
    } finally {
      runner.child.kill("SIGKILL")
      await Effect.runPromise(Scope.close(proxyScope, Exit.void))
      hooks.close()
    }
  }, 60_000)

  it("a database the server says does not exist is a bad setting: exit 2 at once, one line naming it", async () => {
    const url = new URL(databaseUrl.href)
    url.pathname = "/no_such_database_for_outbox"
    url.password = "hunter2-secret"
    const { code, output } = await runToEnd(["run"], {
      OUTBOX_DATABASE_URL: url.href,
      OUTBOX_SENDER: "http://127.0.0.1:9/hooks",
      OUTBOX_HTTP_PORT: "off"
    })
    expect(code).toBe(2)
    expect(output).toContain("Invalid OUTBOX_DATABASE_URL (--database-url): the server refused it")
    expect(output).toContain("does not exist")
    expect(output).not.toContain("hunter2")
  })

  it("dead-letters purge with no filter and no --all is a usage error (exit 2) before any database is opened", async () => {
    const { code, output } = await runToEnd(["dead-letters", "purge"], {
      OUTBOX_DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere" // nothing listens: opening it would fail
    })
    expect(code).toBe(2)
    expect(output).toContain("pass --all to purge every dead letter")
    expect(output).not.toContain("Cannot open the outbox")
  })
})
