/**
 * `outbox demo`: the whole loop on an embedded database, with nothing to set
 * up. A producer writes an order row and its outbox message in one
 * transaction; the relay delivers them to a local webhook receiver that
 * verifies signatures and fails, delays or rejects a share of requests; a
 * live progress line, then a summary that checks every message arrived. The
 * dashboard is served meanwhile (its URL and a fresh admin token are printed).
 *
 * @since 0.1.0
 */
import { Outbox, OutboxStore, RetryPolicy, Topic } from "@effect-outbox/core"
import { PgliteClient } from "@effect-outbox/pglite"
import { Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import { WebhookSender } from "@effect-outbox/webhook"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import * as Receiver from "./internal/ordersDemoReceiver.js"
import * as Dashboard from "./Dashboard.js"
import * as ManagementServer from "./ManagementServer.js"
import * as PrometheusMetrics from "./PrometheusMetrics.js"
import * as RelayHeartbeat from "./RelayHeartbeat.js"
import * as RelayProgress from "./RelayProgress.js"

/**
 * Demo settings.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly messages?: number | undefined
  /** Share of messages answered 503 at first (retried). Default 0.15. */
  readonly failureRate?: number | undefined
  /** Share answered 400 (dead-lettered as Rejected). Default 0.02. */
  readonly rejectRate?: number | undefined
  /** Share answered after 200 ms. Default 0.05. */
  readonly slowRate?: number | undefined
  /** Where lines go. Default: the console. */
  readonly output?: ((line: string) => Effect.Effect<void>) | undefined
  /** Redraw the progress line in place (a terminal) instead of printing one a second. */
  readonly tty?: boolean | undefined
  /** Orders published per second (spread evenly), so the traffic lasts; default: as fast as possible. */
  readonly rate?: number | undefined
  /**
   * Serve the dashboard while the demo runs: on `port` (0: any free port), with
   * `adminToken` (default: a random one, printed). `false` serves nothing. Default `{ port: 0 }`.
   */
  readonly dashboard?: false | { readonly port: number; readonly adminToken?: Redacted.Redacted<string> | undefined } | undefined
  /**
   * After the summary, keep the dashboard up until this completes (the CLI's
   * `--hold`: until Ctrl-C). Default: stop at once.
   */
  readonly hold?: Effect.Effect<void> | undefined
}

/**
 * What the demo found.
 *
 * @category models
 * @since 0.1.0
 */
export interface Summary {
  readonly published: number
  readonly delivered: number
  readonly duplicates: number
  readonly rejected: number
  readonly deadLettered: number
  readonly retries: number
  readonly elapsedMillis: number
  readonly ok: boolean
  readonly problems: ReadonlyArray<string>
}

/**
 * The demo could not run (the embedded database or the local receiver failed to start).
 *
 * @category errors
 * @since 0.1.0
 */
export class DemoError extends Data.TaggedError("DemoError")<{ readonly reason: string }> {
  override get message() {
    return `The demo could not run: ${this.reason}`
  }
}

const OrderPlaced = Topic.make(
  "order.placed",
  Schema.Struct({ orderId: Schema.String, customer: Schema.String, total: Schema.Number })
)

const produce = (count: number, published: Ref.Ref<number>, rate: number | undefined) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL)`
    yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) => {
        const customer = `customer-${i % 17}`
        const total = 10 + (i % 90)
        // The order and its message commit together, or neither exists.
        const publish = sql.withTransaction(Effect.gen(function*() {
          const [order] = yield* sql<{ id: string }>`INSERT INTO orders (customer, total) VALUES (${customer}, ${total}) RETURNING id`
          yield* Outbox.publish(OrderPlaced, { orderId: `order-${order?.id ?? i}`, customer, total }, { key: customer })
        })).pipe(Effect.zipRight(Ref.update(published, (n) => n + 1)))
        // With a rate, one order at a time, spaced evenly.
        return rate === undefined ? publish : Effect.zipRight(Effect.sleep(Duration.millis(1000 / rate)), publish)
      },
      { concurrency: rate === undefined ? 4 : 1, discard: true }
    )
  })

/**
 * Runs the demo; `ok` says whether its final check held.
 *
 * @category operations
 * @since 0.1.0
 */
export const run = (options: Options = {}): Effect.Effect<Summary, DemoError> =>
  Effect.gen(function*() {
    const messages = options.messages ?? 200
    const print = options.output ?? ((line: string) => Console.log(line))
    const secret = Redacted.make(`whsec_${randomBytes(24).toString("base64")}`)
    const receiver = yield* Receiver.make(secret, {
      failureRate: options.failureRate ?? 0.15,
      rejectRate: options.rejectRate ?? 0.02,
      slowRate: options.slowRate ?? 0.05
    })
    yield* print(`effect-outbox demo: ${messages} orders → an embedded Postgres (PGlite) → the relay → a webhook at ${receiver.url}`)
    yield* print("The receiver verifies every signature, answers 503 to some requests (retried), delays some and rejects a few (400: dead letters).")

    const database = PgliteClient.layer()
    const store = SqlOutboxStore.layer({}).pipe(
      Layer.provide(Layer.unwrapEffect(Effect.map(PgliteClient.PgliteClient, (client) => Notifications.layerFrom(client.listen))))
    )
    const sender = WebhookSender.layer({ url: receiver.url, secret, timeout: "5 seconds", concurrency: 10 }).pipe(
      Layer.provide(NodeHttpClient.layerUndici)
    )
    const relay = RelayProgress.layerRelay({
      batchSize: 50,
      pollInterval: "200 millis",
      sendTimeout: "1 minute",
      retryPolicy: RetryPolicy.exponential({ base: "50 millis", cap: "1 second", maxAttempts: 8 })
    }).pipe(Layer.provide(sender))
    const dashboard = options.dashboard ?? { port: 0 }
    const adminToken = dashboard === false
      ? undefined
      : dashboard.adminToken ?? Redacted.make(randomBytes(18).toString("base64url"))
    // The dashboard, and the relay announcing itself in it.
    const http = dashboard === false ? Layer.empty : Layer.merge(
      ManagementServer.layer({ port: dashboard.port, host: "127.0.0.1", adminToken }).pipe(
        Layer.provide(PrometheusMetrics.layer())
      ),
      RelayHeartbeat.layer({ batchSize: 50, concurrency: 1, ordered: false, interval: "2 seconds" })
    ).pipe(Layer.provide(Dashboard.layer()))
    const app = Layer.mergeAll(Outbox.layer, relay, http).pipe(
      Layer.provideMerge(RelayProgress.layer),
      Layer.provideMerge(store),
      Layer.provideMerge(database)
    )

    return yield* Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const published = yield* Ref.make(0)
      const outbox = yield* OutboxStore.OutboxStore
      const progress = yield* RelayProgress.RelayProgress
      const server = yield* Effect.serviceOption(ManagementServer.ManagementServer)
      if (server._tag === "Some" && adminToken !== undefined) {
        yield* print(`Dashboard: ${server.value.url}/  (this demo's admin token: ${Redacted.value(adminToken)})`)
      }
      const producer = yield* Effect.fork(produce(messages, published, options.rate))

      const line = Effect.gen(function*() {
        const totals = (yield* progress.snapshot).totals
        const stats = yield* outbox.stats
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        return `published ${yield* Ref.get(published)}/${messages} · sent ${totals.sent} · retried ${totals.retried} · waiting ${stats.pending + stats.inFlight} · dead ${stats.dead} · ${(totals.sent / Math.max(seconds, 0.001)).toFixed(0)} msg/s`
      })
      // Waits on the outcome itself (everything published and settled), with a deadline.
      let lastPrinted = 0
      for (let tick = 0; ; tick++) {
        const stats = yield* outbox.stats
        const settled = (yield* Ref.get(published)) === messages && stats.pending === 0 && stats.inFlight === 0
        const now = yield* Clock.currentTimeMillis
        if (options.tty === true) {
          const text = yield* line
          // Redraw in place: carriage return, the line, clear to the end of the line.
          yield* Effect.sync(() => process.stdout.write(`\r  ${text}\x1b[K${settled ? "\n" : ""}`))
        } else if (now - lastPrinted >= 1_000 || settled) {
          lastPrinted = now
          yield* print(`  ${yield* line}`)
        }
        if (settled) break
        if (now - started > 120_000) return yield* new DemoError({ reason: "messages were still pending after two minutes" })
        yield* Effect.sleep("100 millis")
      }
      yield* Effect.fromFiber(producer)
      const summary = yield* summarize(started, messages, receiver.deliveries(), outbox, print)
      if (options.hold !== undefined && server._tag === "Some") {
        yield* print(`The dashboard stays up at ${server.value.url}/ until you stop the demo (Ctrl-C).`)
        yield* options.hold
      }
      return summary
    }).pipe(Effect.provide(app))
  }).pipe(
    Effect.scoped,
    // The summary reports dead letters and retries; per-message warnings would bury the progress line.
    Logger.withMinimumLogLevel(LogLevel.Error),
    Effect.catchAll((error) => Effect.fail(error instanceof DemoError ? error : new DemoError({ reason: String(error) })))
  )

const summarize = (
  started: number,
  messages: number,
  deliveries: Receiver.Deliveries,
  outbox: OutboxStore.OutboxStore["Type"],
  print: (line: string) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const elapsedMillis = (yield* Clock.currentTimeMillis) - started
    const letters = yield* outbox.deadLetters.list({})
    const sql = yield* SqlClient.SqlClient
    const [orders] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM orders`
    const duplicates = [...deliveries.received.values()].reduce((sum, count) => sum + count - 1, 0)
    const rejected = letters.filter((letter) => letter.reason === "Rejected").length
    const problems: Array<string> = []
    if (Number(orders?.n) !== messages) problems.push(`${orders?.n} orders were written, not ${messages}`)
    const accounted = deliveries.received.size + rejected
    if (accounted !== messages) {
      problems.push(`${messages - accounted} messages were neither received nor rejected`)
    }
    const unexpected = letters.filter((letter) => letter.reason !== "Rejected")
    if (unexpected.length > 0) problems.push(`${unexpected.length} messages were dead-lettered for another reason than a rejection`)
    if (deliveries.badSignatures > 0) problems.push(`${deliveries.badSignatures} requests failed signature verification`)
    if (duplicates > 0) problems.push(`${duplicates} duplicate deliveries (none expected without crashes)`)
    const summary: Summary = {
      published: messages,
      delivered: deliveries.received.size,
      duplicates,
      rejected,
      deadLettered: letters.length,
      retries: deliveries.failedAnswers,
      elapsedMillis,
      ok: problems.length === 0,
      problems
    }
    yield* print("")
    yield* print(`Summary after ${(elapsedMillis / 1000).toFixed(1)} s:`)
    yield* print(`  published        ${summary.published} orders, each with its outbox message in the same transaction`)
    yield* print(`  delivered        ${summary.delivered} (each verified by its signature; ${summary.retries} 503 answers were retried)`)
    yield* print(`  dead-lettered    ${summary.deadLettered} (${rejected} rejected by the receiver with 400)`)
    yield* print(`  duplicates       ${summary.duplicates}`)
    yield* print(
      summary.ok
        ? "  check            every published message was delivered at least once or rejected: OK"
        : `  check            FAILED: ${problems.join("; ")}`
    )
    return summary
  })
