/**
 * LISTEN on the PGlite session: a subscription whose notifications queue up
 * from the moment LISTEN has run, released when its scope closes.
 *
 * @internal
 */
import type { PGlite } from "@electric-sql/pglite"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Mailbox from "effect/Mailbox"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import { type Guard, toSqlError } from "./connection.js"

/**
 * Subscribes to `channel`. `exclusive` runs LISTEN and UNLISTEN on the session
 * between transactions: run inside another fiber's open transaction, a LISTEN
 * would only take effect if that transaction commits.
 */
export const subscribe = (
  db: PGlite,
  exclusive: Guard,
  channel: string
): Effect.Effect<Stream.Stream<string>, SqlError, Scope.Scope> =>
  Effect.gen(function*() {
    // PGlite matches notifications to listeners by the unquoted name, which a
    // name holding a double quote cannot round-trip.
    if (channel.includes("\"")) {
      return yield* new SqlError({
        message: `Cannot listen on channel ${JSON.stringify(channel)}: channel names with a double quote are not supported`
      })
    }
    // Quoted, so that the channel is matched exactly as `pg_notify` names it
    // (case and punctuation kept), as node-pg's escaped LISTEN does.
    const quoted = `"${channel}"`
    const mailbox = yield* Mailbox.make<string>()
    const onNotification = (payload: string) => {
      mailbox.unsafeOffer(payload)
    }
    yield* Effect.acquireRelease(
      exclusive(Effect.tryPromise({
        try: () => db.listen(quoted, onNotification),
        catch: (cause) => toSqlError(`Failed to listen on channel ${channel}`, cause)
      })),
      // `db.unlisten` with the quoted name rather than the function `db.listen`
      // returns: that one sends the name unquoted, which fails or unlistens
      // another channel for names needing quotes.
      () =>
        Effect.zipRight(
          Effect.suspend(() =>
            db.closed
              // Closing the database ended every subscription already.
              ? Effect.void
              : exclusive(Effect.tryPromise({
                try: () => db.unlisten(quoted, onNotification),
                catch: (cause) => toSqlError(`Failed to unlisten channel ${channel}`, cause)
              }))
          ).pipe(Effect.catchAll((error) => Effect.logWarning(error.message))),
          mailbox.end
        )
    )
    return Mailbox.toStream(mailbox)
  })
