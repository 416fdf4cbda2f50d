/**
 * The AMQP side of a session: a connection and one confirm channel, the
 * exchange checked (or declared) on it, its end classified, and publishes
 * with publisher confirms and `mandatory` returns.
 */
import type { OutboxMessage } from "@effect-outbox/core/Message"
import * as ConfirmedSend from "@effect-outbox/core/ConfirmedSend"
import * as MessageHeaders from "@effect-outbox/core/MessageHeaders"
import * as Reconnect from "@effect-outbox/core/Reconnect"
import { type ChannelModel, type ConfirmChannel, connect } from "amqplib"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"

export type ExchangeType = "topic" | "direct" | "fanout" | "headers"

export interface ConnectOptions {
  readonly url: Redacted.Redacted<string>
  readonly exchange: string
  /** Declare the exchange (durable) with this type; otherwise it must exist. */
  readonly declareExchange?: ExchangeType | undefined
  readonly connectTimeout: Duration.Duration
  readonly connectionName: string
}

/** An open connection, its confirm channel, and what the broker said so far. */
export interface Session {
  readonly model: ChannelModel
  readonly channel: ConfirmChannel
  /** Messages the broker returned as unroutable, by message id, until their confirmation arrives. */
  readonly returned: Map<string, string>
  /** Set by the first close event: the connection's, or else the channel's. */
  readonly ending: { connection?: Reconnect.CloseReason; channel?: Reconnect.CloseReason }
  readonly ended: Deferred.Deferred<void>
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** The AMQP reply code in a client error ("… 403 (ACCESS-REFUSED) …"), when there is one. */
const replyCode = (error: unknown): number | undefined => {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "number") return error.code
  const match = /\b(\d{3}) \([A-Z-]+\)/.exec(errorText(error))
  return match?.[1] === undefined ? undefined : Number(match[1])
}

const accessRefused = 403
const notAllowed = 530 // the user may not use the virtual host
const notFound = 404
const connectionForced = 320 // the broker closed the connection on purpose (operator, shutdown)

/** Foreign connection errors, translated once. The client's messages carry no credentials. */
const connectError = (error: unknown): Reconnect.ConnectError => {
  const code = replyCode(error)
  if (code === accessRefused || code === notAllowed) {
    return new Reconnect.ConnectError({ kind: "Auth", reason: errorText(error), cause: error })
  }
  // amqplib throws on a URL it cannot use (a wrong scheme): no retry fixes that.
  if (error instanceof Error && /Expected amqps? as the protocol|Invalid URL/i.test(error.message)) {
    return new Reconnect.ConnectError({ kind: "Config", reason: error.message, cause: error })
  }
  return new Reconnect.ConnectError({ kind: "Transient", reason: errorText(error), cause: error })
}

const closeReason = (error: unknown, what: string): Reconnect.CloseReason => {
  // A clean close nobody announced (no connection-forced): it spends the drop budget.
  if (error === undefined) return Reconnect.CloseReason.Closed({ reason: `the ${what} was closed cleanly` })
  const code = replyCode(error)
  if (code === connectionForced) return Reconnect.CloseReason.Drained({ reason: errorText(error) })
  if (code === accessRefused || code === notAllowed) return Reconnect.CloseReason.Revoked({ reason: errorText(error) })
  return Reconnect.CloseReason.Dropped({ reason: errorText(error) })
}

const openConnection = (options: ConnectOptions) =>
  Effect.tryPromise({
    try: async () => {
      const model = await connect(Redacted.value(options.url), {
        timeout: Duration.toMillis(options.connectTimeout),
        clientProperties: { connection_name: options.connectionName }
      })
      // An EventEmitter without an "error" listener throws: the close event that follows says what happened.
      model.on("error", () => undefined)
      return model
    },
    catch: connectError
  })

const openChannel = (model: ChannelModel, options: ConnectOptions) =>
  Effect.tryPromise({
    try: async (): Promise<Session> => {
      const channel = await model.createConfirmChannel()
      const ended = Deferred.unsafeMake<void>(FiberId.none)
      const session: Session = { model, channel, returned: new Map(), ending: {}, ended }
      let channelError: unknown
      channel.on("error", (error: unknown) => {
        channelError = error
      })
      channel.on("return", (message: { properties: { messageId?: unknown }; fields: { replyCode: number; replyText: string; routingKey: string } }) => {
        const id = message.properties.messageId
        if (typeof id !== "string") return
        session.returned.set(
          id,
          `unroutable: no queue is bound to exchange "${options.exchange}" for routing key "${message.fields.routingKey}" (${message.fields.replyCode} ${message.fields.replyText})`
        )
      })
      channel.on("close", () => {
        session.ending.channel ??= closeReason(channelError, "channel")
        Deferred.unsafeDone(ended, Exit.void)
      })
      model.on("close", (error: unknown) => {
        session.ending.connection ??= closeReason(error, "connection")
        Deferred.unsafeDone(ended, Exit.void)
      })
      if (options.exchange !== "") {
        if (options.declareExchange === undefined) await channel.checkExchange(options.exchange)
        else await channel.assertExchange(options.exchange, options.declareExchange, { durable: true })
      }
      return session
    },
    catch: (error) => {
      const code = replyCode(error)
      if (code === notFound) {
        return new Reconnect.ConnectError({
          kind: "Config",
          reason: `exchange "${options.exchange}" does not exist (declare it, or let the sender declare it)`,
          cause: error
        })
      }
      if (code === accessRefused) {
        return new Reconnect.ConnectError({ kind: "Auth", reason: errorText(error), cause: error })
      }
      return new Reconnect.ConnectError({ kind: "Transient", reason: errorText(error), cause: error })
    }
  })

/** Opens a session in the given scope; closing the scope closes the connection. */
export const open = (options: ConnectOptions): Effect.Effect<Session, Reconnect.ConnectError, Scope.Scope> =>
  Effect.acquireRelease(
    openConnection(options),
    // Closing a connection the broker already closed rejects: there is nothing left to release then.
    (model) => Effect.promise(() => model.close().catch(() => undefined))
  ).pipe(Effect.flatMap((model) => openChannel(model, options)))

/**
 * Completes when the session ends. A close the broker announces (320
 * CONNECTION_FORCED: an operator or a node shutting down) or a clean close
 * is a drain; an unexpected socket close, a heartbeat timeout or a channel
 * error is a drop; 403 mid-session is revoked authorization.
 */
export const closed = (session: Session): Effect.Effect<Reconnect.CloseReason> =>
  Deferred.await(session.ended).pipe(
    // The channel closes just before its connection, in the same turn: let the connection's reason win.
    Effect.zipLeft(Effect.yieldNow()),
    Effect.map(() =>
      session.ending.connection ?? session.ending.channel ??
        Reconnect.CloseReason.Dropped({ reason: "the session ended" })
    )
  )

/** Publishes one message on the confirm channel; the inner effect awaits the broker's confirm. */
export const publish = (exchange: string, routingKeyFor: (topic: string) => string): ConfirmedSend.Publish<Session> =>
(session, message: OutboxMessage) =>
  Effect.suspend((): Effect.Effect<Effect.Effect<void, ConfirmedSend.PublishFailure>, ConfirmedSend.PublishFailure> => {
    if (session.ending.connection !== undefined || session.ending.channel !== undefined) {
      return Effect.fail(ConfirmedSend.PublishFailure.SessionLost({ reason: "the channel is closed" }))
    }
    const routingKey = routingKeyFor(message.topic)
    const confirmed = Deferred.unsafeMake<void, ConfirmedSend.PublishFailure>(FiberId.none)
    const written = Either.try(() =>
      session.channel.publish(
        exchange,
        routingKey,
        Buffer.from(JSON.stringify(message.payload) ?? "null"),
        {
          messageId: message.id,
          persistent: true,
          mandatory: true,
          contentType: "application/json",
          type: message.topic,
          timestamp: Math.floor(message.createdAt.getTime() / 1000),
          headers: {
            ...message.headers,
            // With every message, besides the app's own headers (`message_id` carries the id).
            [MessageHeaders.outbox.topic]: message.topic,
            [MessageHeaders.outbox.attempt]: message.attempts,
            ...(message.key === null ? {} : { [MessageHeaders.outbox.key]: message.key })
          }
        },
        (error: unknown) => {
          if (error === null || error === undefined) {
            // A return for this id arrived before its confirm: routed nowhere.
            const returned = session.returned.get(message.id)
            session.returned.delete(message.id)
            return Deferred.unsafeDone(
              confirmed,
              returned === undefined ? Exit.void : Exit.fail(ConfirmedSend.PublishFailure.Rejected({ reason: returned }))
            )
          }
          // amqplib fails pending confirms with "channel closed" when the channel goes; a nack says "message nacked".
          const nacked = errorText(error) === "message nacked"
          Deferred.unsafeDone(
            confirmed,
            Exit.fail(
              nacked
                ? ConfirmedSend.PublishFailure.Failed({ reason: `the broker refused it (nack) on exchange "${exchange}"` })
                : ConfirmedSend.PublishFailure.SessionLost({ reason: errorText(error) })
            )
          )
        }
      )
    )
    if (Either.isLeft(written)) {
      // The client throws when the channel is already closed.
      return Effect.fail(ConfirmedSend.PublishFailure.SessionLost({ reason: errorText(written.left) }))
    }
    const confirmation = Deferred.await(confirmed)
    if (written.right) return Effect.succeed(confirmation)
    // The socket's buffer is full: wait for it to drain (or the session to end) before publishing more.
    return Effect.raceFirst(
      Effect.async<void>((resume) => {
        const drained = () => resume(Effect.void)
        session.channel.once("drain", drained)
        return Effect.sync(() => session.channel.off("drain", drained))
      }),
      Deferred.await(session.ended)
    ).pipe(Effect.as(confirmation))
  })
