/**
 * The Redis side of a session: one connection with the client's own
 * reconnect and offline queue off (the `Reconnect` supervisor owns
 * reconnecting), the append script loaded on it, its end observed, and one
 * idempotent append per message, written without waiting for the previous
 * reply (a batch is pipelined: one round trip).
 */
import type { OutboxMessage } from "@effect-outbox/core/Message"
import * as ConfirmedSend from "@effect-outbox/core/ConfirmedSend"
import * as Reconnect from "@effect-outbox/core/Reconnect"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import * as StreamEntry from "../StreamEntry.js"
import { appendScript } from "./appendScript.js"

export interface ConnectOptions {
  readonly host: string
  readonly port: number
  readonly db: number
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly tls: boolean
  readonly connectTimeout: Duration.Duration
  readonly connectionName: string
}

/** An open connection, the append script's SHA1 on it, and how it ended. */
export interface Session {
  readonly client: Redis
  /** Set once the script is loaded, before the session is handed out. */
  sha: string
  /** Set by the first close: why the connection went. */
  ending: Reconnect.CloseReason | undefined
  readonly ended: Deferred.Deferred<void>
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Redis refuses the credentials (WRONGPASS, NOAUTH) or the user's permissions (NOPERM). */
const isAuthError = (text: string) => /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password/i.test(text)

/** Foreign connection errors, translated once. Redis's messages carry no credentials. */
const connectError = (error: unknown, first: string | undefined): Reconnect.ConnectError => {
  // The client reports "Connection is closed." when the server hangs up on a
  // failed handshake; the reason is the error it emitted before that.
  const reason = first ?? errorText(error)
  if (isAuthError(reason)) return new Reconnect.ConnectError({ kind: "Auth", reason, cause: error })
  if (/DB index is out of range|unknown command/i.test(reason)) {
    return new Reconnect.ConnectError({ kind: "Config", reason, cause: error })
  }
  return new Reconnect.ConnectError({ kind: "Transient", reason, cause: error })
}

const openConnection = (options: ConnectOptions) =>
  Effect.async<Session, Reconnect.ConnectError>((resume) => {
    const client = new Redis({
      host: options.host,
      port: options.port,
      db: options.db,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: Redacted.value(options.password) }),
      ...(options.tls ? { tls: { servername: options.host } } : {}),
      connectionName: options.connectionName,
      connectTimeout: Duration.toMillis(options.connectTimeout),
      lazyConnect: true,
      // The supervisor reconnects; a command on a lost connection must fail at once, not wait in a queue.
      retryStrategy: () => null,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      // Appends issued in the same tick (a batch) go out in one socket write.
      enableAutoPipelining: true
    })
    let firstError: string | undefined
    const ended = Deferred.unsafeMake<void>(FiberId.none)
    client.on("error", (error: unknown) => {
      firstError ??= errorText(error)
    })
    client.once("close", () => {
      session.ending ??= Reconnect.CloseReason.Dropped({
        reason: firstError === undefined ? "the connection was closed" : firstError
      })
      Deferred.unsafeDone(ended, Exit.void)
    })
    const session: Session = { client, sha: "", ending: undefined, ended }
    client.connect()
      // The client reports a failed SELECT (a database the server does not have) as an error
      // event and carries on with database 0: never append to a database nobody asked for.
      .then(() => firstError === undefined ? client.script("LOAD", appendScript) : Promise.reject(new Error(firstError)))
      .then(
        (sha) => {
          session.sha = String(sha)
          resume(Effect.succeed(session))
        },
        (error: unknown) => {
          client.disconnect()
          resume(Effect.fail(connectError(error, firstError)))
        }
      )
    return Effect.sync(() => client.disconnect())
  })

/** Opens a session in the given scope; closing the scope closes the connection. */
export const open = (options: ConnectOptions): Effect.Effect<Session, Reconnect.ConnectError, Scope.Scope> =>
  Effect.acquireRelease(
    openConnection(options),
    (session) => Effect.sync(() => session.client.disconnect())
  )

/** Completes when the connection closes. Redis announces no shutdown: every close is a drop. */
export const closed = (session: Session): Effect.Effect<Reconnect.CloseReason> =>
  Effect.map(
    Deferred.await(session.ended),
    () => session.ending ?? Reconnect.CloseReason.Dropped({ reason: "the connection was closed" })
  )

/** Where and how messages are appended. */
export interface AppendOptions {
  readonly stream: (topic: string) => string
  readonly dedupeKey: (id: string) => string
  readonly dedupeWindow: Duration.Duration
  readonly trim: Trim | undefined
}

/** Trimming applied by every XADD (always approximate, `~`: whole macro nodes, cheap). */
export type Trim =
  | { readonly maxLength: number }
  | { readonly maxAge: Duration.DurationInput }

// A reply error Redis gives for this message only, whatever the connection:
// the stream's key holds another type. Anything else (OOM, READONLY, LOADING,
// BUSY, NOPERM) may pass: the message is retried.
const rejectedFor = (text: string) => /^WRONGTYPE\b/.test(text)

const isReplyError = (error: unknown): error is Error => error instanceof Error && error.name === "ReplyError"

/** Appends one message through the script; the inner effect awaits Redis's reply. */
export const publish = (options: AppendOptions): ConfirmedSend.Publish<Session> => {
  const windowMillis = String(Math.max(1, Math.round(Duration.toMillis(options.dedupeWindow))))
  const trim = options.trim
  const trimArguments: Effect.Effect<readonly [string, string]> = trim === undefined
    ? Effect.succeed(["", ""])
    : "maxLength" in trim
    ? Effect.succeed(["MAXLEN", String(trim.maxLength)])
    // Entry ids start with the millisecond they were added: older than the cut-off is below `<cut-off>-0`.
    : Effect.map(Clock.currentTimeMillis, (now) => ["MINID", `${Math.max(0, now - Duration.toMillis(trim.maxAge))}-0`])
  return (session, message: OutboxMessage) =>
    Effect.suspend(() => {
      if (session.ending !== undefined || session.client.status !== "ready") {
        return Effect.fail(
          ConfirmedSend.PublishFailure.SessionLost({ reason: session.ending?.reason ?? "the connection is not open" })
        )
      }
      return Effect.map(trimArguments, ([trimKind, threshold]) => {
        const stream = options.stream(message.topic)
        const reply: Promise<Exit.Exit<void, ConfirmedSend.PublishFailure>> = session.client.evalsha(
          session.sha,
          2,
          options.dedupeKey(message.id),
          stream,
          windowMillis,
          trimKind,
          threshold,
          ...StreamEntry.fields(message)
        ).then(
          () => Exit.void,
          (error: unknown) => {
            const text = errorText(error)
            if (!isReplyError(error) || /^NOSCRIPT\b/.test(text)) {
              // The connection went (or the server lost the script: a new session loads it again).
              return Exit.fail(ConfirmedSend.PublishFailure.SessionLost({ reason: text }))
            }
            const reason = `Redis refused the append to "${stream}": ${text}`
            return Exit.fail(
              rejectedFor(text) ? ConfirmedSend.PublishFailure.Rejected({ reason }) : ConfirmedSend.PublishFailure.Failed({ reason })
            )
          }
        )
        // The reply is an Exit already: resume with it.
        return Effect.async<void, ConfirmedSend.PublishFailure>((resume) => {
          void reply.then(resume)
        })
      })
    })
}
