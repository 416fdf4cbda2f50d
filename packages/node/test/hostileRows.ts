/**
 * Helpers for tests that write rows straight into a Postgres outbox table, as
 * a hostile or careless writer would, and run a real relay over them.
 */
import { HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Outbox, type Relay } from "@effect-outbox/core"
import { Migrations, SqlOutboxStore } from "@effect-outbox/sql"
import * as RelayProgress from "@effect-outbox/node/RelayProgress"
import * as WebhookSender from "@effect-outbox/webhook/WebhookSender"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Layer, Random, Redacted, Ref } from "effect"
import { createServer } from "node:http"

const databaseUrl = process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** A pool on the test database; building it fails (never skips) when Postgres is down. */
export const Pg = PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 4, applicationName: "outbox-hostile" })

/** A migrated schema of its own, dropped when the scope closes. */
export const freshSchema = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const schema = `hostile_${(yield* Random.nextIntBetween(0, 2 ** 31)).toString(36)}_${process.pid}`
  yield* Effect.addFinalizer(() => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`.pipe(Effect.orDie))
  yield* Migrations.run({ schema })
  return schema
})

/** A row as written by hand: every column as SQL text (`null` is SQL NULL), defaults where left out. */
export interface RawRow {
  readonly topic?: string
  readonly key?: string | null
  /** JSON text. */
  readonly payload?: string
  /** JSON text. */
  readonly headers?: string
  readonly attempts?: number
  readonly lost_claims?: number
  /** Timestamp text, e.g. `infinity`. */
  readonly created_at?: string
  readonly available_at?: string
}

/** A good row: topic `order.created`, payload `{"n": n}`. */
export const good = (n: number): RawRow => ({ topic: "order.created", payload: JSON.stringify({ n }) })

/** Inserts the rows in one transaction, in order; returns their ids. */
export const insertRows = (schema: string, rows: ReadonlyArray<RawRow>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(Effect.forEach(rows, (row) =>
      Effect.map(
        sql<{ id: string }>`
          INSERT INTO ${sql(`${schema}.outbox`)} (topic, key, payload, headers, attempts, lost_claims, created_at, available_at)
          VALUES (${row.topic ?? "order.created"}, ${row.key ?? null}, ${row.payload ?? "{\"n\": 0}"}::jsonb,
                  ${row.headers ?? "{}"}::jsonb, ${row.attempts ?? 0}, ${row.lost_claims ?? 0},
                  COALESCE(${row.created_at ?? null}::timestamptz, now()),
                  COALESCE(${row.available_at ?? null}::timestamptz, now()))
          RETURNING id`,
        (inserted) => String(inserted[0]?.id)
      ))))

/** The dead letters of the schema, oldest first. */
export const deadLetters = (schema: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string; reason: string; last_error: string; attempts: number }>`
      SELECT id::text AS id, reason, last_error, attempts FROM ${sql(`${schema}.outbox_dead_letters`)} ORDER BY id`)

/** How many rows are left in the outbox (pending or in flight). */
export const outboxRows = (schema: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql<{ count: string }>`SELECT count(*) AS count FROM ${sql(`${schema}.outbox`)}`, (rows) =>
      Number(rows[0]?.count)))

/** What a webhook receiver got. */
export interface Received {
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** A local webhook receiver answering `status(request)`; records every request. */
export const startReceiver = (status: (request: Received) => number = () => 204) =>
  Effect.gen(function*() {
    // The server lives as long as the caller's scope.
    const server = yield* Layer.build(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }))
    const received = yield* Ref.make<ReadonlyArray<Received>>([])
    yield* HttpServer.serveEffect(Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const entry = { headers: request.headers, body: yield* request.text }
      yield* Ref.update(received, (all) => [...all, entry])
      return HttpServerResponse.empty({ status: status(entry) })
    })).pipe(Effect.provide(server))
    const { address } = Context.get(server, HttpServer.HttpServer)
    const port = address._tag === "TcpAddress" ? address.port : 0
    return {
      url: `http://127.0.0.1:${port}/hooks`,
      received: Ref.get(received),
      /** How many requests each message id got. */
      deliveries: Effect.map(Ref.get(received), (all) => {
        const counts = new Map<string, number>()
        for (const request of all) {
          const id = request.headers["webhook-id"] ?? ""
          counts.set(id, (counts.get(id) ?? 0) + 1)
        }
        return counts
      })
    }
  })

/**
 * A tracked relay (as `outbox run` runs it) over the schema, with its store,
 * `Outbox` and `RelayProgress` provided to the caller, running until the scope closes.
 */
export const relayOn = <S, E>(
  schema: string,
  sender: Layer.Layer<S, E>,
  options: Relay.Options = {}
) =>
  RelayProgress.layerRelay({ pollInterval: "50 millis", batchSize: 10, ...options }).pipe(
    Layer.provideMerge(Layer.mergeAll(RelayProgress.layer, sender, Outbox.layer)),
    Layer.provideMerge(SqlOutboxStore.layer({ schema, migrate: false }))
  )

/** The webhook sender to a receiver's URL. */
export const webhookTo = (url: string) =>
  WebhookSender.layer({ url, timeout: "5 seconds" }).pipe(Layer.provide(NodeHttpClient.layerUndici))
