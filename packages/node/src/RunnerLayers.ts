/**
 * The runner's layers, from its settings: the store on Postgres or on the
 * embedded PGlite database, the webhook sender, leadership, and the relay
 * with its management server. `outbox run` is `runLayer` launched.
 *
 * @since 0.1.0
 */
import { Leadership, OutboxStore, Redact, type Relay, type Sender } from "@effect-outbox/core"
import { AdvisoryLock, Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Dashboard from "./Dashboard.js"
import * as ManagementServer from "./ManagementServer.js"
import * as PrometheusMetrics from "./PrometheusMetrics.js"
import * as RelayHeartbeat from "./RelayHeartbeat.js"
import * as RelayProgress from "./RelayProgress.js"
import { isConnectionLoss, isRefusedSetting } from "./internal/databaseRefusal.js"
import * as RunnerConfig from "./RunnerConfig.js"
import * as StoreConnection from "./StoreConnection.js"

// Start-up loads only what the settings use: a driver, a sender and its client
// are imported when their layer is built (a broker client or the embedded
// database costs hundreds of milliseconds of module loading for nothing otherwise).
const lazy = <A, E, R>(load: () => Promise<Layer.Layer<A, E, R>>): Layer.Layer<A, E, R> =>
  Layer.unwrapEffect(Effect.promise(load))

/**
 * The runner could not start: no database, a port taken. The message is safe to print.
 *
 * @category errors
 * @since 0.1.0
 */
export class StartupError extends Data.TaggedError("StartupError")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

// Errors from drivers may quote what they were given: keep secrets out.
const describe = (secrets: ReadonlyArray<Redacted.Redacted<string>>) => {
  const scrub = Redact.scrubber(secrets.flatMap(Redact.urlSecrets))
  return (error: unknown): string => {
    const text = error instanceof Error
      ? [error.message, error.cause instanceof Error ? error.cause.message : ""].filter((part) => part.length > 0).join(": ")
      : String(error)
    return scrub(text)
  }
}

/**
 * Where the database is, for messages: the host of a URL, or the data directory.
 *
 * @category utils
 * @since 0.1.0
 */
export const describeDatabase = (database: RunnerConfig.Database): string =>
  Option.match(database.url, {
    onNone: () => `embedded database in ${database.dataDir}`,
    onSome: (url) =>
      Option.match(Redact.location(url), {
        onNone: () => "Postgres",
        onSome: ({ host, path }) => `Postgres at ${host}${path}`
      })
  })

/**
 * Migrations fail as defects (the Migrator's way), so a connection lost while
 * they run (a database restarting, a proxy cutting it) would kill the runner
 * instead of being waited out like a failed connect. A defect that is a lost
 * connection becomes a failure (retried by `outbox run`); any other defect (a
 * migration the database rejects) stays one.
 *
 * @category combinators
 * @since 0.1.0
 */
export const connectionLossAsFailure = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E | unknown, R> =>
  Layer.catchAllCause(layer, (cause) => {
    const defect = Cause.dieOption(cause)
    return Option.isSome(defect) && isConnectionLoss(defect.value) ? Layer.fail(defect.value) : Layer.failCause(cause)
  })

/**
 * The store (migrated unless `migrate` is false) and its `SqlClient`: on
 * Postgres with LISTEN wake-ups when a URL is set, else on PGlite in the data directory.
 *
 * @category layers
 * @since 0.1.0
 */
export const store = (
  database: RunnerConfig.Database,
  options: { readonly migrate?: boolean } = {}
): Layer.Layer<OutboxStore.OutboxStore | SqlClient.SqlClient, StartupError | RunnerConfig.InvalidSetting> => {
  const storeOptions = { schema: database.schema, tablePrefix: database.tablePrefix, migrate: options.migrate ?? true }
  const explain = describe(Option.toArray(database.url))
  const where = describeDatabase(database)
  const layer = Option.match(database.url, {
    onSome: (url) =>
      lazy(async () => {
        const PgClient = await import("@effect/sql-pg/PgClient")
        return SqlOutboxStore.layer(storeOptions).pipe(
          Layer.provide(Notifications.layerPg),
          Layer.provideMerge(PgClient.layer({ url, applicationName: "outbox", maxConnections: database.poolSize }))
        )
      }),
    onNone: () =>
      lazy(async () => {
        const { PgliteClient } = await import("@effect-outbox/pglite")
        return SqlOutboxStore.layer(storeOptions).pipe(
          Layer.provide(Layer.unwrapEffect(Effect.map(PgliteClient.PgliteClient, (client) => Notifications.layerFrom(client.listen)))),
          Layer.provideMerge(PgliteClient.layer({ dataDir: database.dataDir }))
        )
      })
  })
  return Layer.mapError(connectionLossAsFailure(layer), (error): StartupError | RunnerConfig.InvalidSetting =>
    // A server that refuses the settings (password, database name) will not change its mind: no waiting.
    Option.isSome(database.url) && isRefusedSetting(error)
      ? new RunnerConfig.InvalidSetting({
        setting: RunnerConfig.settings.databaseUrl,
        problem: `the server refused it (${explain(error)})`
      })
      : new StartupError({ reason: `Cannot open the outbox (${where}): ${explain(error)}` }))
}

/**
 * The sender for the settings: a webhook, NATS JetStream, RabbitMQ or Redis Streams, by the
 * URL's scheme. Broker senders connect (once) before the relay starts.
 *
 * @category layers
 * @since 0.1.0
 */
export const sender = (
  settings: RunnerConfig.SenderSettings,
  relay: Pick<RunnerConfig.RelaySettings, "sendTimeout" | "webhookConcurrency">
): Layer.Layer<Sender.Sender, StartupError> => {
  const sendTimeout = relay.sendTimeout
  const layer: Layer.Layer<Sender.Sender, { readonly message: string }> = settings.kind === "nats"
    ? lazy(async () => (await import("@effect-outbox/nats")).NatsSender.layerFromUrl(settings.url, { timeout: sendTimeout }))
    : settings.kind === "amqp"
    ? lazy(async () => (await import("@effect-outbox/amqp")).AmqpSender.layerFromUrl(settings.url, { timeout: sendTimeout }))
    : settings.kind === "redis"
    ? lazy(async () =>
      (await import("@effect-outbox/redis")).RedisStreamsSender.layerFromUrl(settings.url, { timeout: sendTimeout })
    )
    : lazy(async () => {
      const [{ WebhookSender }, NodeHttpClient] = await Promise.all([
        import("@effect-outbox/webhook"),
        import("@effect/platform-node/NodeHttpClient")
      ])
      return WebhookSender.layer({
        url: Redacted.value(settings.url),
        secret: Option.getOrUndefined(settings.signingSecret),
        timeout: sendTimeout,
        concurrency: relay.webhookConcurrency
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    })
  // Each sender's errors name the host at most, never credentials.
  return Layer.mapError(layer, (error) => new StartupError({ reason: `Cannot use OUTBOX_SENDER: ${error.message}` }))
}

/**
 * Leadership per the settings: advisory-lock needs a Postgres server.
 *
 * @category layers
 * @since 0.1.0
 */
export const leadership = (
  relay: RunnerConfig.RelaySettings,
  database: RunnerConfig.Database
): Layer.Layer<Leadership.Leadership, StartupError, SqlClient.SqlClient> => {
  if (relay.leadership === "always") return Leadership.always
  if (Option.isNone(database.url)) {
    return Layer.fail(new StartupError({
      reason: "Invalid OUTBOX_LEADERSHIP (--leadership): advisory-lock needs OUTBOX_DATABASE_URL (a Postgres server); the embedded database has one process"
    }))
  }
  return AdvisoryLock.layer({ name: `effect-outbox:${database.schema}.${database.tablePrefix}` })
}

/**
 * The relay's options from the settings.
 *
 * @category config
 * @since 0.1.0
 */
export const relayOptions = (relay: RunnerConfig.RelaySettings, kind: RunnerConfig.SenderKind): Relay.Options => ({
  batchSize: relay.batchSize,
  concurrency: relay.concurrency,
  pollInterval: relay.pollInterval,
  leaseFor: relay.lease,
  // OUTBOX_SEND_TIMEOUT bounds one webhook request, or one broker batch (which
  // then reports what is unconfirmed as failed): the relay's own timeout is
  // only a backstop above it.
  sendTimeout: kind === "webhook"
    ? Duration.times(relay.sendTimeout, Math.ceil(relay.batchSize / relay.webhookConcurrency) + 1)
    : Duration.times(relay.sendTimeout, 2),
  shutdownTimeout: relay.shutdownTimeout,
  retryPolicy: relay.retryPolicy,
  ordered: relay.ordered,
  deadLetteredKey: relay.deadLetteredKey,
  claimMode: relay.claimMode,
  maxLostClaims: relay.maxLostClaims
})

/**
 * Everything `outbox run` runs: the management server (with the dashboard)
 * first, then the store (waiting for the database while it is down or
 * starting, see `StoreConnection`; `/readyz` says so meanwhile), then the
 * dashboard's data, the sender, leadership and the relay (tracked for
 * readiness, and announcing itself in the relays table). The relay's tracker
 * is the output, so the runner can wait on `RelayProgress.failWhenStopped`.
 *
 * @category layers
 * @since 0.1.0
 */
export const runLayer = (settings: {
  readonly database: RunnerConfig.Database
  readonly relay: RunnerConfig.RelaySettings
  readonly sender: RunnerConfig.SenderSettings
  readonly http: RunnerConfig.HttpSettings
}): Layer.Layer<RelayProgress.RelayProgress, StartupError | RunnerConfig.InvalidSetting | Relay.ConfigError> =>
  Layer.scopedContext(Effect.gen(function*() {
    const scope = yield* Effect.scope
    const connection = yield* StoreConnection.make
    const tracker = yield* RelayProgress.make
    const progress = Layer.succeed(RelayProgress.RelayProgress, tracker)
    const late = yield* Dashboard.makeLate
    if (settings.http.port !== undefined) {
      const http = ManagementServer.layer({
        port: settings.http.port,
        host: settings.http.host,
        adminToken: Option.getOrUndefined(settings.http.adminToken),
        adminReadToken: Option.getOrUndefined(settings.http.adminReadToken),
        readiness: { stallThreshold: settings.http.stallThreshold, failureThreshold: settings.http.failureThreshold }
      }).pipe(
        Layer.provide(PrometheusMetrics.layer()),
        Layer.mapError((error) =>
          new StartupError({ reason: `Cannot serve HTTP on port ${settings.http.port}: ${describe([])(error)}` })),
        Layer.provide(Layer.mergeAll(
          progress,
          Layer.succeed(OutboxStore.OutboxStore, connection.store),
          Layer.succeed(Dashboard.Late, late)
        ))
      )
      const server = yield* Layer.buildWithScope(http, scope)
      const url = Context.get(server, ManagementServer.ManagementServer).url
      yield* Effect.logInfo("Serving the dashboard, /healthz, /readyz, /metrics and /admin", { url, dashboard: `${url}/` })
    }
    const opened = Layer.succeedContext(yield* StoreConnection.open(connection, store(settings.database)))
    const dashboard = yield* Layer.buildWithScope(
      Dashboard.layer({ schema: settings.database.schema, tablePrefix: settings.database.tablePrefix }).pipe(
        Layer.provide(opened),
        Layer.mapError((error) => new StartupError({ reason: `Cannot start the dashboard: ${error.message}` }))
      ),
      scope
    )
    yield* late.set(dashboard)
    const heartbeat = RelayHeartbeat.layer({
      batchSize: settings.relay.batchSize,
      concurrency: settings.relay.concurrency,
      ordered: settings.relay.ordered,
      claimMode: settings.relay.claimMode
    }).pipe(Layer.provide(Layer.merge(progress, Layer.succeedContext(dashboard))))
    const relay = RelayProgress.layerRelay(relayOptions(settings.relay, settings.sender.kind)).pipe(
      Layer.provide(progress),
      Layer.provide(sender(settings.sender, settings.relay)),
      Layer.provide(Layer.provide(leadership(settings.relay, settings.database), opened)),
      Layer.provide(opened)
    )
    yield* Layer.buildWithScope(Layer.merge(relay, heartbeat), scope)
    return Context.make(RelayProgress.RelayProgress, tracker)
  }))
