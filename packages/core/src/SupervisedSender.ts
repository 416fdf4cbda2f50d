/**
 * A `Sender` over one supervised broker connection: the shape the NATS, AMQP
 * and Redis senders share. It starts a `Reconnect` supervisor, waits for the
 * first session (so wrong credentials or a missing stream fail at start-up,
 * after one attempt, with a `ReconnectError`), and sends with
 * `ConfirmedSend.sendConfirmed`: only what the broker confirmed is acked.
 * A broker package supplies how to open and watch a session and how to
 * publish one message on it.
 *
 * @example
 * import { Effect, type Scope } from "effect"
 * import { type ConfirmedSend, type Reconnect, SupervisedSender } from "@effect-outbox/core"
 *
 * interface Session { readonly publish: (subject: string, data: Uint8Array) => Promise<void> }
 * declare const open: (connectTimeout: SupervisedSender.Timeouts) => Effect.Effect<Session, Reconnect.ConnectError, Scope.Scope>
 * declare const endOf: (session: Session) => Effect.Effect<Reconnect.CloseReason>
 * declare const publishOne: ConfirmedSend.Publish<Session>
 *
 * const sender = SupervisedSender.make(
 *   { broker: "NATS at 127.0.0.1:4222", connect: open, closed: endOf, publish: () => publishOne },
 *   { timeout: "5 seconds", reconnect: { budget: 20 } }
 * )
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ConfirmedSend from "./ConfirmedSend.js"
import * as Reconnect from "./Reconnect.js"
import { Sender } from "./Sender.js"

/**
 * The connection options every broker sender (NATS, AMQP, Redis) takes,
 * besides its own: how long one send and one connection attempt may take,
 * and the supervisor's `Reconnect.Tuning`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * Bounds one `send`: waiting for a connection, publishing, the broker's
   * confirmations and any re-publish after a drop. Keep it below the relay's
   * `sendTimeout`. Default 5 s.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** Bounds opening a connection. Default 5 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Backoff and drop budget of the connection's supervisor; unset fields use `Reconnect.defaults`. */
  readonly reconnect?: Reconnect.Tuning | undefined
}

/**
 * The timeouts used when `Options` leaves them unset.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = { timeout: Duration.seconds(5), connectTimeout: Duration.seconds(5) } as const

/**
 * The options' timeouts, decoded, with the defaults filled in.
 *
 * @category models
 * @since 0.1.0
 */
export interface Timeouts {
  readonly timeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
}

/**
 * What a broker package supplies: its sessions and how one message is published on one.
 *
 * @category models
 * @since 0.1.0
 */
export interface Broker<S> {
  /** The broker, as people know it, for logs and errors. Never include credentials. */
  readonly broker: string
  /** Opens a session (see `Reconnect.Options.connect`). */
  readonly connect: (timeouts: Timeouts) => Effect.Effect<S, Reconnect.ConnectError, Scope.Scope>
  /** Completes when the session ends, saying why. */
  readonly closed: (session: S) => Effect.Effect<Reconnect.CloseReason>
  /** Publishes one message on a session. */
  readonly publish: (timeouts: Timeouts) => ConfirmedSend.Publish<S>
}

/**
 * Makes the sender in the current scope, connected until the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <S>(
  broker: Broker<S>,
  options: Options
): Effect.Effect<Sender["Type"], Reconnect.ReconnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeouts: Timeouts = {
      timeout: Duration.decode(options.timeout ?? defaults.timeout),
      connectTimeout: Duration.decode(options.connectTimeout ?? defaults.connectTimeout)
    }
    const supervisor = yield* Reconnect.make<S>({
      broker: broker.broker,
      connect: broker.connect(timeouts),
      closed: broker.closed,
      ...options.reconnect
    })
    // Waiting for the first session makes a refused login or setup fail here, once, not on every send.
    yield* supervisor.withSession(() => Effect.void)
    return Sender.of({
      send: ConfirmedSend.sendConfirmed(supervisor, broker.publish(timeouts), { timeout: timeouts.timeout })
    })
  })
