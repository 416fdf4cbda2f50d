import { jetstreamManager } from "@nats-io/jetstream"
import { connect as connectNats } from "@nats-io/transport-node"
import { Migrations } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import amqp from "amqplib"
import { Effect, Redacted } from "effect"
import { Redis } from "ioredis"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import { eventuallyAsync } from "@effect-outbox/test-support/Eventually"
import { runToEnd } from "./outboxProcess.js"

// `outbox drain` with a broker as OUTBOX_SENDER: the runner wires the NATS,
// RabbitMQ and Redis senders by URL scheme (their own packages test reconnects and confirms).
const databaseUrl = process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `brokers_${process.pid}`
const suffix = `${process.pid}_${Math.floor(performance.now())}`
const Pg = PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })
const runSql = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | PgClient.PgClient>) =>
  Effect.runPromise(Effect.provide(effect, Pg))

const seed = (count: number) =>
  runSql(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO ${sql(`${schema}.outbox`)} (topic, payload)
        SELECT 'order.created', jsonb_build_object('n', g) FROM generate_series(1, ${count}::int) g`))

const drain = (sender: string) =>
  runToEnd(["drain", "--database-url", databaseUrl, "--schema", schema, "--sender", sender])

const totals = (output: string) => JSON.parse(output.trim().split("\n").at(-1) ?? "{}")

beforeAll(() => runSql(Migrations.run({ schema })), 60_000)
afterAll(() => runSql(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`)))

describe("outbox drain into a broker", () => {
  it("nats:// publishes every message to JetStream", async () => {
    const stream = `OUTBOX_RUNNER_${suffix}`
    await seed(50)
    const result = await drain(`nats://127.0.0.1:4222?stream=${stream}&createStream=true&subjectPrefix=runner.${suffix}.`)
    expect(result.code, result.output).toBe(0)
    expect(totals(result.output)).toMatchObject({ claimed: 50, sent: 50, deadLettered: 0 })
    const connection = await connectNats({ servers: "127.0.0.1:4222" })
    try {
      const manager = await jetstreamManager(connection)
      expect((await manager.streams.info(stream)).state.messages).toBe(50)
      await manager.streams.delete(stream)
    } finally {
      await connection.close()
    }
  }, 60_000)

  it("amqp:// publishes every message with confirms to a bound queue", async () => {
    const exchange = `outbox.runner.${suffix}`
    const queue = `outbox-runner-${suffix}`
    const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672")
    const channel = await connection.createChannel()
    try {
      await channel.assertExchange(exchange, "topic", { durable: false, autoDelete: false })
      await channel.assertQueue(queue, { durable: false })
      await channel.bindQueue(queue, exchange, "#")
      await seed(40)
      const result = await drain(`amqp://guest:guest@127.0.0.1:5672/?exchange=${exchange}`)
      expect(result.code, result.output).toBe(0)
      expect(totals(result.output)).toMatchObject({ claimed: 40, sent: 40, deadLettered: 0 })
      expect((await channel.checkQueue(queue)).messageCount).toBe(40)
      expect(result.output).not.toContain("guest:guest")
    } finally {
      await channel.deleteQueue(queue)
      await channel.deleteExchange(exchange)
      await connection.close()
    }
  }, 60_000)

  it("redis:// appends every message to the topic's stream; a wrong password stops it at once; the password is never printed", async () => {
    // A redis-server of the test's own, with a password (the shared one has none).
    const port = await new Promise<number>((resolve) => {
      const probe = Net.createServer().listen(0, "127.0.0.1", () => {
        const address = probe.address()
        probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
      })
    })
    const password = `runner-secret-${suffix}`
    const server = ChildProcess.spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password],
      { stdio: "ignore" }
    )
    const client = new Redis({ port, password, lazyConnect: true, retryStrategy: () => null })
    client.on("error", () => undefined)
    try {
      await eventuallyAsync("redis-server to listen", () => client.connect().then(() => true, () => false))
      await seed(30)
      const wrong = await drain(`redis://:wrong-${password}@127.0.0.1:${port}/0?streamPrefix=runner:`)
      expect(wrong.code, wrong.output).toBe(1)
      expect(wrong.output).toContain(
        `Cannot use OUTBOX_SENDER: Redis at 127.0.0.1:${port}/0 refused the credentials or permissions (not retried): WRONGPASS`
      )
      const result = await drain(`redis://:${password}@127.0.0.1:${port}/0?streamPrefix=runner:`)
      expect(result.code, result.output).toBe(0)
      expect(totals(result.output)).toMatchObject({ claimed: 30, sent: 30, deadLettered: 0 })
      expect(await client.xlen("runner:order.created")).toBe(30)
      for (const output of [wrong.output, result.output]) expect(output).not.toContain(password)
    } finally {
      client.disconnect()
      server.kill("SIGKILL")
    }
  }, 60_000)
})
