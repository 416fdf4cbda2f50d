/**
 * A `Sender` that publishes to RabbitMQ (AMQP 0-9-1) on a confirm channel.
 * Each message goes to `exchange` with a routing key from its topic,
 * `message_id` = the message id, its headers plus `outbox-topic`,
 * `outbox-attempt` (and `outbox-key`), persistent and `mandatory`. It is
 * acked to the outbox only once the broker confirms it; a message the broker
 * returns as unroutable is `Rejected` (dead-lettered), a nack is `Failed`
 * (retried).
 *
 * The connection is owned by a `Reconnect` supervisor: bounded backoff, a
 * drop budget that resets once a session proves healthy, one attempt on
 * ACCESS_REFUSED, a broker-forced close (320) followed without spending
 * budget, and publishes left unconfirmed by a lost connection published again
 * on the next one. RabbitMQ has no broker-side dedupe: such a re-publish
 * can reach consumers twice, so consumers dedupe on `message_id` (see `Inbox`).
 *
 * @example
 * import { Redacted } from "effect"
 * import { AmqpSender } from "@effect-outbox/amqp"
 *
 * const SenderLive = AmqpSender.layer({
 *   url: Redacted.make("amqp://relay:secret@rabbit:5672/orders"),
 *   exchange: "outbox",
 *   declareExchange: "topic"
 * })
 *
 * @since 0.1.0
 */
import * as BrokerUrl from "@effect-outbox/core/BrokerUrl"
import type * as Reconnect from "@effect-outbox/core/Reconnect"
import * as Redact from "@effect-outbox/core/Redact"
import { Sender } from "@effect-outbox/core/Sender"
import * as SupervisedSender from "@effect-outbox/core/SupervisedSender"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Session from "./internal/session.js"

/**
 * An exchange type, for `declareExchange`.
 *
 * @category models
 * @since 0.1.0
 */
export type ExchangeType = Session.ExchangeType

/**
 * How the sender connects and publishes.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends SupervisedSender.Options {
  /** `amqp://user:password@host:port/vhost` (or `amqps://`), kept `Redacted`: it holds the password. */
  readonly url: Redacted.Redacted<string>
  /** The exchange to publish to; "" is the default exchange (routing key = queue name). */
  readonly exchange: string
  /** The routing key for a topic. Default: the topic itself. */
  readonly routingKey?: ((topic: string) => string) | undefined
  /**
   * Declare the exchange (durable) with this type at connect time. Without
   * it the exchange must exist: a missing one is one clear error, not a failure per message.
   */
  readonly declareExchange?: ExchangeType | undefined
  /** The connection name the broker shows. Default "effect-outbox". */
  readonly connectionName?: string | undefined
}

/**
 * The broker as people know it, for logs and errors: no user, password or query.
 *
 * @category utils
 * @since 0.1.0
 */
export const describeBroker = (url: Redacted.Redacted<string>): string =>
  Option.match(Redact.location(url), {
    onNone: () => "RabbitMQ",
    onSome: ({ host, path }) => `RabbitMQ at ${host}${path === "" ? "/" : path}`
  })

/**
 * Makes the sender in the current scope. It waits for the first connection,
 * so wrong credentials or a missing exchange fail here with one clear
 * `ReconnectError` after a single attempt.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("AmqpSender.make")(function*(
  options: Options
): Effect.fn.Return<Sender["Type"], Reconnect.ReconnectError, Scope.Scope> {
  return yield* SupervisedSender.make({
    broker: describeBroker(options.url),
    connect: ({ connectTimeout }) =>
      Session.open({
        url: options.url,
        exchange: options.exchange,
        declareExchange: options.declareExchange,
        connectTimeout,
        connectionName: options.connectionName ?? "effect-outbox"
      }),
    closed: Session.closed,
    publish: () => Session.publish(options.exchange, options.routingKey ?? ((topic) => topic))
  }, options)
})

/**
 * The sender as a layer: connected while the layer's scope is open.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Sender, Reconnect.ReconnectError> =>
  Layer.scoped(Sender, make(options))

/**
 * An `amqp://` URL the runner was given could not be used. The message never repeats the URL (it may hold secrets).
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidUrl extends Data.TaggedError("AmqpInvalidUrl")<{ readonly problem: string }> {
  override get message() {
    return `Invalid AMQP sender URL: ${this.problem}. Expected amqp[s]://user:password@host[:port][/vhost][?exchange=NAME&declareExchange=topic]`
  }
}

/**
 * The exchange used when a URL names none: it exists on every RabbitMQ virtual host.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultExchange = "amq.topic"

const exchangeTypes: ReadonlyArray<string> = ["topic", "direct", "fanout", "headers"]

const isExchangeType = (type: string): type is ExchangeType => exchangeTypes.includes(type)

/**
 * Options from a URL, as the runner takes them (`--sender amqp://…`):
 * `amqp[s]://user:password@host[:port][/vhost]` with optional query
 * parameters `exchange` (default `amq.topic`) and `declareExchange=<type>`;
 * other parameters (`heartbeat`, `frameMax`) go to the client. The URL stays `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const optionsFromUrl = (url: Redacted.Redacted<string>): Effect.Effect<Options, InvalidUrl> =>
  Effect.gen(function*() {
    const parsed = yield* BrokerUrl.parse(Redacted.value(url), ["amqp:", "amqps:"]).pipe(
      Either.mapLeft((problem) => new InvalidUrl({ problem }))
    )
    const exchange = parsed.searchParams.get("exchange") ?? defaultExchange
    const declare = parsed.searchParams.get("declareExchange")
    if (declare !== null && !isExchangeType(declare)) {
      return yield* new InvalidUrl({ problem: `declareExchange must be one of ${exchangeTypes.join(", ")}` })
    }
    parsed.searchParams.delete("exchange")
    parsed.searchParams.delete("declareExchange")
    return {
      url: Redacted.make(parsed.toString()),
      exchange,
      ...(declare === null ? {} : { declareExchange: declare })
    }
  })

/**
 * The sender from an `amqp://` URL (see `optionsFromUrl`), with other options on top.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: Redacted.Redacted<string>,
  options: Omit<Partial<Options>, "url"> = {}
): Layer.Layer<Sender, Reconnect.ReconnectError | InvalidUrl> =>
  Layer.scoped(
    Sender,
    Effect.flatMap(optionsFromUrl(url), (fromUrl) => make({ ...fromUrl, ...options }))
  )
