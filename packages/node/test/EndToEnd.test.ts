import { Outbox, Topic } from "@effect-outbox/core"
import { Migrations, SqlOutboxStore } from "@effect-outbox/sql"
import { WebhookSignature } from "@effect-outbox/webhook"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted, Schema } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { eventuallyAsync } from "@effect-outbox/test-support/Eventually"
import { start } from "./outboxProcess.js"

const databaseUrl = process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `e2e_${process.pid}`
const secret = "whsec_ZTJlLXNpZ25pbmctc2VjcmV0LWZvci10aGUtdGVzdA=="
const Pg = PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 2 })
const runSql = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | PgClient.PgClient>) =>
  Effect.runPromise(Effect.provide(effect, Pg))

const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

/** A webhook receiver that verifies every signature and counts deliveries per message id. */
const receiver = async () => {
  const received = new Map<string, number>()
  let badSignatures = 0
  const server: Server = createServer((request, response) => {
    let body = ""
    request.on("data", (chunk: Buffer) => (body += chunk.toString()))
    request.on("end", () => {
      const verified = Effect.runSync(
        Effect.either(WebhookSignature.verify(Redacted.make(secret), request.headers as WebhookSignature.HeadersInput, body))
      )
      if (Either.isLeft(verified)) {
        badSignatures++
        response.writeHead(401).end()
        return
      }
      received.set(verified.right.id, (received.get(verified.right.id) ?? 0) + 1)
      // A little latency, so a SIGTERM lands while batches are in flight.
      setTimeout(() => response.writeHead(204).end(), 3)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hooks`, received, badSignatures: () => badSignatures, close: () => server.close() }
}

const pending = () =>
  runSql(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(`${schema}.outbox`)}`, (rows) => Number(rows[0]?.n))))

afterAll(() => runSql(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`)))

describe("outbox run, end to end", () => {
  it("delivers 1,000 messages across a SIGTERM and a restart: none lost, duplicates counted", async () => {
    const hooks = await receiver()
    const ids = await runSql(Effect.gen(function*() {
      yield* Migrations.run({ schema })
      return yield* Outbox.publishAll(Array.from({ length: 1000 }, (_, n) => ({ topic: OrderCreated, payload: { n } }))).pipe(
        Effect.provide(Layer.provide(Outbox.layer, SqlOutboxStore.layer({ schema, migrate: false })))
      )
    }))
    const env = {
      OUTBOX_DATABASE_URL: databaseUrl,
      OUTBOX_SCHEMA: schema,
      OUTBOX_SENDER: hooks.url,
      OUTBOX_SIGNING_SECRET: secret,
      OUTBOX_HTTP_PORT: "off",
      OUTBOX_BATCH_SIZE: "50",
      OUTBOX_POLL_INTERVAL: "200ms"
    }

    const first = start(["run"], env)
    await eventuallyAsync("the first deliveries", () => hooks.received.size >= 200)
    first.child.kill("SIGTERM")
    expect(await first.exited).toBe(0)
    const beforeRestart = hooks.received.size
    expect(beforeRestart).toBeLessThan(1000) // it was stopped mid-drain

    const second = start(["run"], env)
    await eventuallyAsync("every message to be delivered", async () => (await pending()) === 0)
    second.child.kill("SIGTERM")
    expect(await second.exited).toBe(0)
    hooks.close()

    const missing = ids.filter((id) => !hooks.received.has(id))
    const duplicates = [...hooks.received.values()].reduce((sum, count) => sum + count - 1, 0)
    console.log(`end to end: 1000 published, ${beforeRestart} delivered before SIGTERM, ${hooks.received.size} delivered in all, ${duplicates} duplicates`)
    expect(missing).toEqual([])
    expect(hooks.badSignatures()).toBe(0)
    expect(first.output()).toContain("Relay stopped")
  }, 120_000)

  it("a second signal exits at once, while the first still waits for an in-flight batch", async () => {
    // A receiver that never answers: the batch stays in flight.
    const server = createServer(() => undefined)
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    const secondSchema = `${schema}_signal`
    await runSql(Effect.gen(function*() {
      yield* Migrations.run({ schema: secondSchema })
      yield* Outbox.publish(OrderCreated, { n: 1 }).pipe(
        Effect.provide(Layer.provide(Outbox.layer, SqlOutboxStore.layer({ schema: secondSchema, migrate: false })))
      )
    }))
    const relay = start(["run"], {
      OUTBOX_DATABASE_URL: databaseUrl,
      OUTBOX_SCHEMA: secondSchema,
      OUTBOX_SENDER: `http://127.0.0.1:${port}/hooks`,
      OUTBOX_HTTP_PORT: "off",
      OUTBOX_SEND_TIMEOUT: "1h",
      OUTBOX_SHUTDOWN_TIMEOUT: "1h"
    })
    let requests = 0
    server.on("request", () => requests++)
    await eventuallyAsync("the batch to be in flight", () => requests > 0)
    relay.child.kill("SIGTERM")
    // Signals are not queued: wait until the first was handled before sending the second.
    await eventuallyAsync("the graceful shutdown to begin", () => relay.output().includes("outbox: stopping"))
    // The graceful shutdown would wait for the send (up to an hour); the second signal cuts it short.
    relay.child.kill("SIGTERM")
    expect(await relay.exited).toBe(130)
    server.close()
    await runSql(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(secondSchema)} CASCADE`))
  }, 60_000)
})
