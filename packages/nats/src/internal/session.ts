/**
 * The NATS side of a session: connecting (with the client's own reconnect
 * off, so the `Reconnect` supervisor alone decides), noticing its end, and
 * publishing to JetStream with confirmations.
 */
import type { OutboxMessage } from "@effect-outbox/core/Message"
import * as ConfirmedSend from "@effect-outbox/core/ConfirmedSend"
import * as MessageHeaders from "@effect-outbox/core/MessageHeaders"
import * as Reconnect from "@effect-outbox/core/Reconnect"
import {
  type JetStreamClient,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager
} from "@nats-io/jetstream"
import { connect, errors, headers, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"

/** An open connection and its JetStream client. */
export interface Session {
  readonly connection: NatsConnection
  readonly jetstream: JetStreamClient
}

export type Credentials =
  | { readonly user: string; readonly password: Redacted.Redacted<string> }
  | { readonly token: Redacted.Redacted<string> }

export interface StreamOptions {
  readonly name: string
  readonly create?: boolean | undefined
  readonly subjects?: ReadonlyArray<string> | undefined
}

export interface ConnectOptions {
  readonly servers: ReadonlyArray<string>
  readonly credentials?: Credentials | undefined
  readonly stream?: StreamOptions | undefined
  readonly subjectPrefix: string
  readonly connectTimeout: Duration.Duration
  readonly timeout: Duration.Duration
  readonly name?: string | undefined
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const isStreamNotFound = (error: unknown): boolean =>
  error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound

// The client raises this one (also for "no responders" on a JetStream subject) without exporting its class.
const isJetStreamNotEnabled = (error: unknown): boolean => error instanceof Error && error.name === "JetStreamNotEnabled"

const isAuthError = (error: unknown): boolean =>
  error instanceof errors.AuthorizationError ||
  error instanceof errors.UserAuthenticationExpiredError ||
  error instanceof errors.PermissionViolationError

/** Foreign connection errors, translated once. The client's messages carry no credentials. */
const connectError = (error: unknown): Reconnect.ConnectError =>
  isAuthError(error)
    ? new Reconnect.ConnectError({ kind: "Auth", reason: errorText(error), cause: error })
    : new Reconnect.ConnectError({ kind: "Transient", reason: errorText(error), cause: error })

const credentialOptions = (credentials: Credentials | undefined): Partial<NodeConnectionOptions> => {
  if (credentials === undefined) return {}
  return "token" in credentials
    ? { token: Redacted.value(credentials.token) }
    : { user: credentials.user, pass: Redacted.value(credentials.password) }
}

const ensureStream = (connection: NatsConnection, options: ConnectOptions, stream: StreamOptions) => {
  const refail = (doing: string) => (error: unknown) => {
    if (isStreamNotFound(error)) {
      return new Reconnect.ConnectError({
        kind: "Config",
        reason: `JetStream stream "${stream.name}" does not exist (create it, or let the sender create it)`,
        cause: error
      })
    }
    if (isJetStreamNotEnabled(error)) {
      return new Reconnect.ConnectError({ kind: "Config", reason: "JetStream is not enabled on the server", cause: error })
    }
    return new Reconnect.ConnectError({
      kind: isAuthError(error) ? "Auth" : "Transient",
      reason: `${doing} stream "${stream.name}": ${errorText(error)}`,
      cause: error
    })
  }
  return Effect.gen(function*() {
    const manager = yield* Effect.tryPromise({
      try: () => jetstreamManager(connection, { timeout: Duration.toMillis(options.timeout) }),
      catch: refail("checking")
    })
    yield* Effect.tryPromise({ try: () => manager.streams.info(stream.name), catch: (error) => error }).pipe(
      Effect.catchIf(
        (error) => isStreamNotFound(error) && stream.create === true,
        () =>
          Effect.tryPromise(() =>
            manager.streams.add({ name: stream.name, subjects: [...(stream.subjects ?? [`${options.subjectPrefix}>`])] })
          ).pipe(Effect.mapError((error) => error.cause))
      ),
      Effect.mapError(refail("checking"))
    )
  })
}

/** Opens a session in the given scope; closing the scope closes the connection. */
export const open = (options: ConnectOptions): Effect.Effect<Session, Reconnect.ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const connection = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          connect({
            servers: [...options.servers],
            // The supervisor owns reconnecting: a client reconnecting on its own
            // would buffer publishes across connections and hide drops from the budget.
            reconnect: false,
            maxReconnectAttempts: 0,
            timeout: Duration.toMillis(options.connectTimeout),
            ...(options.name === undefined ? {} : { name: options.name }),
            ...credentialOptions(options.credentials)
          }),
        catch: connectError
      }),
      (connection) => Effect.promise(() => connection.close())
    )
    if (options.stream !== undefined) yield* ensureStream(connection, options, options.stream)
    return { connection, jetstream: jetstream(connection, { timeout: Duration.toMillis(options.timeout) }) }
  })

/**
 * Completes when the session ends. A lame-duck announcement (the server is
 * about to shut down or restart) is a drain: reconnect without spending
 * budget. Any other end is a drop: a TCP close cannot tell a server restart
 * from a middlebox reset, and only the budget stops a flapping loop.
 */
export const closed = (session: Session): Effect.Effect<Reconnect.CloseReason> =>
  Effect.async<Reconnect.CloseReason>((resume) => {
    let watching = true
    const end = (reason: Reconnect.CloseReason) => {
      if (!watching) return
      watching = false
      resume(Effect.succeed(reason))
    }
    session.connection.closed().then((error) => {
      if (error === undefined) return end(Reconnect.CloseReason.Dropped({ reason: "the connection closed" }))
      end(
        isAuthError(error)
          ? Reconnect.CloseReason.Revoked({ reason: errorText(error) })
          : Reconnect.CloseReason.Dropped({ reason: errorText(error) })
      )
    })
    // Read by hand: the status iterator's `return()` never settles, so a
    // `Stream` over it could not be interrupted. It ends with the connection.
    const statuses = session.connection.status()[Symbol.asyncIterator]()
    const watch = async (): Promise<void> => {
      while (watching) {
        const next = await statuses.next()
        if (next.done === true) return
        if (next.value.type === "ldm") return end(Reconnect.CloseReason.Drained({ reason: "the server entered lame duck mode" }))
      }
    }
    watch().catch(() => undefined) // a failing status stream means the connection is closing: `closed()` says why
    return Effect.sync(() => {
      watching = false
    })
  })

const encoder = new TextEncoder()

/**
 * Waits for a client promise that was already started, with its handlers
 * attached at once: a rejection nobody awaited yet would otherwise crash
 * the process as an unhandled rejection.
 */
const confirmation = <A>(
  promise: Promise<A>,
  classify: (error: unknown) => ConfirmedSend.PublishFailure
): Effect.Effect<void, ConfirmedSend.PublishFailure> => {
  const done = Deferred.unsafeMake<void, ConfirmedSend.PublishFailure>(FiberId.none)
  promise.then(
    () => Deferred.unsafeDone(done, Exit.void),
    (error: unknown) => Deferred.unsafeDone(done, Exit.fail(classify(error)))
  )
  return Deferred.await(done)
}

/** Publishes one message to JetStream; the inner effect awaits its PubAck. */
export const publish = (
  subjectFor: (topic: string) => string,
  msgIdPrefix: string,
  timeout: Duration.Duration
): ConfirmedSend.Publish<Session> =>
(session, message: OutboxMessage) =>
  Effect.suspend((): Effect.Effect<Effect.Effect<void, ConfirmedSend.PublishFailure>, ConfirmedSend.PublishFailure> => {
    const subject = subjectFor(message.topic)
    const lost = () => session.connection.isClosed() || session.connection.isDraining()
    if (lost()) return Effect.fail(ConfirmedSend.PublishFailure.SessionLost({ reason: "the connection is closed" }))
    const carried = headers()
    // Header names are checked by the client; a bad one never becomes valid.
    const copied = Either.try(() => {
      for (const [name, value] of Object.entries(message.headers)) carried.set(name, value)
    })
    if (Either.isLeft(copied)) {
      return Effect.fail(ConfirmedSend.PublishFailure.Rejected({ reason: `header: ${errorText(copied.left)}` }))
    }
    // With every message, besides the app's own headers and `Nats-Msg-Id`.
    carried.set(MessageHeaders.outboxNats.topic, message.topic)
    carried.set(MessageHeaders.outboxNats.attempt, String(message.attempts))
    if (message.key !== null) carried.set(MessageHeaders.outboxNats.key, message.key)
    carried.set("Content-Type", "application/json")
    const payload = encoder.encode(JSON.stringify(message.payload) ?? "null")
    const acked = session.jetstream.publish(subject, payload, {
      // JetStream drops a second copy with the same id inside the stream's duplicate window.
      msgID: `${msgIdPrefix}${message.id}`,
      headers: carried,
      timeout: Duration.toMillis(timeout)
    })
    return Effect.succeed(confirmation(acked, (error) => {
      if (lost()) return ConfirmedSend.PublishFailure.SessionLost({ reason: errorText(error) })
      if (error instanceof errors.InvalidSubjectError || error instanceof errors.InvalidArgumentError) {
        return ConfirmedSend.PublishFailure.Rejected({ reason: `cannot publish to "${subject}": ${errorText(error)}` })
      }
      if (isJetStreamNotEnabled(error) || (error instanceof errors.RequestError && error.isNoResponders())) {
        return ConfirmedSend.PublishFailure.Failed({ reason: `no JetStream stream stores subject "${subject}"` })
      }
      if (error instanceof errors.TimeoutError) {
        return ConfirmedSend.PublishFailure.Failed({ reason: `no PubAck for "${subject}" within ${Duration.format(timeout)}` })
      }
      return ConfirmedSend.PublishFailure.Failed({ reason: `publishing to "${subject}": ${errorText(error)}` })
    }))
  })
