/**
 * Leadership through a Postgres advisory lock, so only one relay drains the
 * outbox. The lock is session-level, held on a dedicated connection; the
 * connection is checked before every claim (and every `checkInterval`), and when it is lost (the
 * server restarted, the backend was terminated) leadership is dropped at once
 * and another relay's attempt takes the lock, which Postgres released with
 * the dead session.
 *
 * For Postgres servers. On PGlite (one process owns the database) use
 * `Leadership.always`.
 *
 * @since 0.1.0
 */
import { Leadership } from "@effect-outbox/core/Leadership"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlConnection from "@effect/sql/SqlConnection"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"

/**
 * Options of the advisory lock.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The lock's name: relays using the same name elect one leader. Default "effect-outbox:public.outbox". */
  readonly name?: string | undefined
  /** How often to try for the lock, and to check the connection while holding it. Default 1 second. */
  readonly checkInterval?: Duration.DurationInput | undefined
  /**
   * How long the lock's connection may take to answer a liveness ping. Past
   * it (a half-open socket, a stalled server) this relay is not leader and
   * says why, instead of blocking its worker and `/readyz`. Default 2 seconds.
   */
  readonly pingTimeout?: Duration.DurationInput | undefined
}

/** The lock's connection did not answer a liveness ping in time. */
class PingTimeout extends Data.TaggedError("PingTimeout")<{ readonly reason: string }> {}

/**
 * Leadership held through `pg_try_advisory_lock` on a reserved connection.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Leadership, never, SqlClient.SqlClient> =>
  Layer.scoped(
    Leadership,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const name = options.name ?? "effect-outbox:public.outbox"
      const checkInterval = Duration.decode(options.checkInterval ?? Duration.seconds(1))
      const pingTimeout = Duration.decode(options.pingTimeout ?? Duration.seconds(2))
      const unanswered = `the lock's connection did not answer within ${Duration.format(pingTimeout)}`
      // A ping bounded by pingTimeout: a half-open socket fails it instead of hanging.
      const ping = (connection: SqlConnection.Connection) =>
        connection.execute("SELECT 1", [], undefined).pipe(
          Effect.timeoutFail({ duration: pingTimeout, onTimeout: () => new PingTimeout({ reason: unanswered }) })
        )
      // The connection holding the lock, while it does.
      const holding = yield* Ref.make(Option.none<SqlConnection.Connection>())

      const holdWhileConnected = Effect.scoped(
        Effect.gen(function*() {
          const connection = yield* sql.reserve
          const query = (text: string) => connection.execute(text, [name], undefined)
          const heartbeat = ping(connection)
          const tryLock = Effect.map(
            query("SELECT pg_try_advisory_lock(hashtext($1)) AS locked"),
            (rows) => rows[0]?.locked === true
          )
          yield* tryLock.pipe(Effect.repeat({ schedule: Schedule.spaced(checkInterval), until: (locked) => locked }))
          yield* Effect.addFinalizer(() =>
            Ref.set(holding, Option.none()).pipe(
              // Fails harmlessly when the connection is gone: the server freed the lock with it.
              // Bounded too: on a half-open socket the unlock would never answer.
              Effect.zipRight(Effect.ignore(Effect.timeout(query("SELECT pg_advisory_unlock(hashtext($1))"), pingTimeout)))
            )
          )
          yield* Ref.set(holding, Option.some(connection))
          yield* Effect.logInfo("This relay is now the outbox leader", { lock: name })
          // Holds the lock until the connection fails (the repeat only ends with an error).
          return yield* heartbeat.pipe(Effect.repeat(Schedule.spaced(checkInterval)))
        })
      )

      yield* holdWhileConnected.pipe(
        Effect.tapError((error) =>
          Effect.logWarning("Lost the leadership connection; this relay stops claiming until it leads again", error)
        ),
        Effect.retry(Schedule.spaced(checkInterval)),
        Effect.forever,
        Effect.orDie, // unreachable: the retry never gives up
        Effect.forkScoped
      )
      // Asked before every claim: the lock's connection must answer now, so a
      // relay whose session died (and whose lock Postgres freed) stops at once,
      // not at the next background check.
      const isLeader = Effect.flatMap(
        Ref.get(holding),
        Option.match({
          onNone: () => Effect.succeed(false),
          onSome: (connection) =>
            ping(connection).pipe(
              Effect.as(true),
              // The background check notices too, and lets go of the connection.
              Effect.catchAll((error) =>
                Effect.as(
                  error._tag === "PingTimeout"
                    ? Effect.logWarning(`Not leader: ${error.reason}; this relay stops claiming until it answers`)
                    : Effect.void,
                  false
                )
              )
            )
        })
      )
      return { isLeader }
    })
  )
