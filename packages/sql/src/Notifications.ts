/**
 * Wake-ups for relays: publishers `pg_notify` in their transaction (delivered
 * on commit only) and relays LISTEN. A hint only: the relay polls as well, so
 * a lost listen connection delays delivery by at most one poll interval.
 *
 * The listener owns a dedicated `pg` connection rather than using
 * `PgClient.listen`, whose stream neither fails nor ends when its connection
 * dies (and whose later calls reuse the dead client). Here a dropped
 * connection is noticed, and the listener re-connects with backoff.
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import pg from "pg"

/**
 * Listens on a channel. The stream never fails: a dropped listener reconnects on its own.
 *
 * @category tags
 * @since 0.1.0
 */
export class Notifications extends Context.Tag("@effect-outbox/sql/Notifications")<Notifications, {
  readonly listen: (channel: string) => Stream.Stream<string>
}>() {}

/** A listen connection dropped or could not be made. Never leaves this module: the listener reconnects. */
class ListenDropped extends Data.TaggedError("ListenDropped")<{ readonly reason: string }> {
  override get message() {
    return `The outbox listen connection dropped: ${this.reason}`
  }
}

const connectionConfig = (config: PgClient.PgClientConfig): pg.ClientConfig => ({
  ...(config.url === undefined ? {} : { connectionString: Redacted.value(config.url) }),
  ...(config.host === undefined ? {} : { host: config.host }),
  ...(config.port === undefined ? {} : { port: config.port }),
  ...(config.database === undefined ? {} : { database: config.database }),
  ...(config.username === undefined ? {} : { user: config.username }),
  ...(config.password === undefined ? {} : { password: Redacted.value(config.password) }),
  ...(config.ssl === undefined ? {} : { ssl: config.ssl }),
  application_name: `${config.applicationName ?? "effect-outbox"}:listen`
})

// One session: connect, LISTEN, emit notifications until the connection ends.
const session = (config: pg.ClientConfig, channel: string): Stream.Stream<string, ListenDropped> =>
  Stream.asyncScoped<string, ListenDropped>((emit) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const client = new pg.Client(config)
          client.on("error", (error) => void emit.fail(new ListenDropped({ reason: error.message })))
          client.on("end", () => void emit.fail(new ListenDropped({ reason: "connection ended" })))
          client.on("notification", (notification) => {
            if (notification.channel === channel) void emit.single(notification.payload ?? "")
          })
          await client.connect()
          await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
          // Whatever was committed while (re)connecting was not heard: say so once.
          void emit.single("listening")
          return client
        },
        // pg's errors name the server, never the password: still keep only the message.
        catch: (error) => new ListenDropped({ reason: error instanceof Error ? error.message : "could not connect" })
      }),
      (client) => Effect.promise(() => client.end().catch(() => undefined))
    )
  )

/**
 * Notifications through a dedicated connection made with the `PgClient`'s
 * settings, re-listening with capped exponential backoff when it drops.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerPg: Layer.Layer<Notifications, never, PgClient.PgClient> = Layer.effect(
  Notifications,
  Effect.map(PgClient.PgClient, (client) => {
    const config = connectionConfig(client.config)
    const backoff = Schedule.exponential(Duration.millis(100)).pipe(Schedule.union(Schedule.spaced(Duration.seconds(5))))
    return {
      listen: (channel) =>
        session(config, channel).pipe(
          Stream.tapError((dropped) =>
            Effect.logWarning("Outbox listen connection dropped; polling until it is back", { reason: dropped.reason })),
          Stream.retry(backoff),
          Stream.catchAll(() => Stream.empty) // unreachable: the backoff never ends
        )
    }
  })
)

/**
 * Notifications from any `listen` function (e.g. the PGlite driver's).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFrom = (listen: (channel: string) => Stream.Stream<string, unknown>): Layer.Layer<Notifications> =>
  Layer.succeed(Notifications, {
    listen: (channel) =>
      listen(channel).pipe(
        Stream.catchAllCause((cause) =>
          Stream.fromEffect(Effect.logWarning("Outbox listener failed; polling only", cause)).pipe(Stream.drain))
      )
  })
