/**
 * A `Sender` that publishes to NATS JetStream. Each message goes to a
 * subject named after its topic, with `Nats-Msg-Id` set to the message id
 * (so JetStream drops a re-sent copy inside the stream's duplicate window),
 * its headers plus `Outbox-Topic`, `Outbox-Attempt` (and `Outbox-Key`), and
 * is acked to the outbox only once its PubAck arrives.
 *
 * The connection is owned by a `Reconnect` supervisor (the NATS client's own
 * reconnect is off): bounded backoff, a drop budget that resets once a
 * session proves healthy, one attempt on an authorization error, a
 * lame-duck announcement followed without spending budget, and publishes
 * left without a PubAck re-sent on the next connection.
 *
 * @example
 * import { Redacted } from "effect"
 * import { NatsSender } from "@effect-outbox/nats"
 *
 * const SenderLive = NatsSender.layer({
 *   servers: "nats://127.0.0.1:4222",
 *   subjectPrefix: "outbox.",
 *   stream: { name: "OUTBOX", create: true },
 *   credentials: { user: "relay", password: Redacted.make("secret") }
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
 * User and password, or a token. Kept `Redacted` so they never reach a log.
 *
 * @category models
 * @since 0.1.0
 */
export type Credentials = Session.Credentials

/**
 * The stream that stores the subjects: required to exist, or created when missing.
 *
 * @category models
 * @since 0.1.0
 */
export type StreamOptions = Session.StreamOptions

/**
 * How the sender connects and publishes.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends SupervisedSender.Options {
  /** One server or several (`host:port` or `nats://host:port`), without credentials. */
  readonly servers: string | ReadonlyArray<string>
  /** Prepended to the topic to make the subject (when `subject` is not given). Default none. */
  readonly subjectPrefix?: string | undefined
  /** The subject for a topic. Default: `subjectPrefix + topic`. */
  readonly subject?: ((topic: string) => string) | undefined
  /**
   * Check at connect time that this stream exists (or create it, with
   * `create: true`, on `subjects`, default `subjectPrefix + ">"`). A missing
   * stream is then one clear error instead of every publish failing.
   */
  readonly stream?: StreamOptions | undefined
  /**
   * Prepended to the message id in `Nats-Msg-Id`. JetStream dedupes per
   * stream: when several outboxes (whose ids may collide) publish into one
   * stream, give each its own prefix, or a message could be dropped as a
   * duplicate of another outbox's. Default none.
   */
  readonly msgIdPrefix?: string | undefined
  readonly credentials?: Credentials | undefined
  /** The connection name the server shows. Default "effect-outbox". */
  readonly name?: string | undefined
}

const serverList = (servers: Options["servers"]): ReadonlyArray<string> =>
  typeof servers === "string" ? [servers] : servers

// Server addresses as people know them, for logs and errors: no credentials even if a URL carried some.
const describeServers = (servers: ReadonlyArray<string>): string =>
  `NATS at ${
    servers.map((server) =>
      Redact.location(server).pipe(
        Option.orElse(() => Redact.location(`nats://${server}`)),
        Option.match({ onNone: () => "an unparsable address", onSome: ({ host }) => host })
      )
    ).join(", ")
  }`

/**
 * Makes the sender in the current scope. It waits for the first connection,
 * so wrong credentials or a missing stream fail here with one clear
 * `ReconnectError` after a single attempt.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("NatsSender.make")(function*(
  options: Options
): Effect.fn.Return<Sender["Type"], Reconnect.ReconnectError, Scope.Scope> {
  const servers = serverList(options.servers)
  const subjectPrefix = options.subjectPrefix ?? ""
  const subjectFor = options.subject ?? ((topic: string) => `${subjectPrefix}${topic}`)
  return yield* SupervisedSender.make({
    broker: describeServers(servers),
    connect: ({ connectTimeout, timeout }) =>
      Session.open({
        servers,
        credentials: options.credentials,
        stream: options.stream,
        subjectPrefix,
        connectTimeout,
        timeout,
        name: options.name ?? "effect-outbox"
      }),
    closed: Session.closed,
    publish: ({ timeout }) => Session.publish(subjectFor, options.msgIdPrefix ?? "", timeout)
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
 * A `nats://` URL the runner was given could not be used. The message never repeats the URL (it may hold secrets).
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidUrl extends Data.TaggedError("NatsInvalidUrl")<{ readonly problem: string }> {
  override get message() {
    return `Invalid NATS sender URL: ${this.problem}. Expected nats://[user:password@|token@]host[:port][?stream=NAME&createStream=true&subjectPrefix=PREFIX]`
  }
}

/**
 * Options from a URL, as the runner takes them (`--sender nats://…`):
 * `nats://[user:password@|token@]host[:port]`, with optional query
 * parameters `stream`, `createStream=true` and `subjectPrefix`. Credentials
 * stay `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const optionsFromUrl = (url: Redacted.Redacted<string>): Effect.Effect<Options, InvalidUrl> =>
  Effect.gen(function*() {
    const parsed = yield* BrokerUrl.parse(Redacted.value(url), ["nats:"]).pipe(
      Either.mapLeft((problem) => new InvalidUrl({ problem }))
    )
    const user = decodeURIComponent(parsed.username)
    const password = decodeURIComponent(parsed.password)
    const credentials: Credentials | undefined = user === ""
      ? undefined
      : password === ""
      ? { token: Redacted.make(user) }
      : { user, password: Redacted.make(password) }
    const query = parsed.searchParams
    const stream = query.get("stream")
    const subjectPrefix = query.get("subjectPrefix")
    return {
      servers: [`${parsed.hostname}:${parsed.port === "" ? "4222" : parsed.port}`],
      ...(credentials === undefined ? {} : { credentials }),
      ...(subjectPrefix === null ? {} : { subjectPrefix }),
      ...(stream === null ? {} : { stream: { name: stream, create: query.get("createStream") === "true" } })
    }
  })

/**
 * The sender from a `nats://` URL (see `optionsFromUrl`), with other options on top.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: Redacted.Redacted<string>,
  options: Omit<Partial<Options>, "servers" | "credentials"> = {}
): Layer.Layer<Sender, Reconnect.ReconnectError | InvalidUrl> =>
  Layer.scoped(
    Sender,
    Effect.flatMap(optionsFromUrl(url), (fromUrl) => make({ ...fromUrl, ...options }))
  )
