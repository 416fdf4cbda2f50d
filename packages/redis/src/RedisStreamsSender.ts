/**
 * A `Sender` that appends to Redis Streams. Each message becomes one entry
 * (`XADD … *`) on the stream for its topic (`streamPrefix + topic` by
 * default), with the fields of `StreamEntry`: id, topic, key, attempt,
 * createdAt, headers (with `traceparent`) and payload as JSON.
 *
 * Redis Streams have no producer idempotency, so every append runs one Lua
 * script: `SET <dedupePrefix>:sent:<id> NX PX <dedupeWindow>`, and `XADD`
 * only when that key was set. A message sent again inside the window (a
 * relay crash before its ack, a reply lost with the connection) is not
 * appended twice; past the window it would be (consumers dedupe with
 * `Inbox.once`). A batch is pipelined: every append is written before the
 * first reply is awaited, one round trip.
 *
 * The connection is owned by a `Reconnect` supervisor (the client's own
 * reconnect and offline queue are off): bounded backoff, a drop budget that
 * resets once a session proves healthy, one attempt on WRONGPASS/NOAUTH, and
 * appends left without a reply re-sent (and deduped) on the next connection.
 *
 * @example
 * import { Redacted } from "effect"
 * import { RedisStreamsSender } from "@effect-outbox/redis"
 *
 * const SenderLive = RedisStreamsSender.layer({
 *   host: "127.0.0.1",
 *   password: Redacted.make("secret"),
 *   streamPrefix: "outbox:",
 *   trim: { maxLength: 1_000_000 }
 * })
 *
 * @since 0.1.0
 */
import * as BrokerUrl from "@effect-outbox/core/BrokerUrl"
import type * as Reconnect from "@effect-outbox/core/Reconnect"
import { Sender } from "@effect-outbox/core/Sender"
import * as SupervisedSender from "@effect-outbox/core/SupervisedSender"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Session from "./internal/session.js"

/**
 * Trimming for every append: `{ maxLength: n }` (`MAXLEN ~ n`) or `{ maxAge }` (`MINID ~ <now − maxAge>`).
 *
 * @category models
 * @since 0.1.0
 */
export type Trim = Session.Trim

/**
 * How the sender connects and appends.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends SupervisedSender.Options {
  /** Default "127.0.0.1". */
  readonly host?: string | undefined
  /** Default 6379. */
  readonly port?: number | undefined
  /** The database number. Default 0. */
  readonly db?: number | undefined
  /** An ACL user (Redis 6+); without it, the password is the `default` user's. */
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** Connect over TLS (`rediss://`). Default false. */
  readonly tls?: boolean | undefined
  /** Prepended to the topic to make the stream name (when `stream` is not given). Default "outbox:". */
  readonly streamPrefix?: string | undefined
  /** One stream for every topic (a string), or the stream for a topic (a function). Default: `streamPrefix + topic`. */
  readonly stream?: string | ((topic: string) => string) | undefined
  /**
   * The dedupe keys are `<dedupePrefix>:sent:<message id>`. Outboxes whose
   * ids may collide and that share a Redis database need different prefixes.
   * Default "outbox".
   */
  readonly dedupePrefix?: string | undefined
  /**
   * How long a sent message id is remembered: a copy sent again within it is
   * not appended again. Past it, a copy would be appended (consumers dedupe
   * with `Inbox.once`). Each remembered id costs one small key. Default 24 hours.
   */
  readonly dedupeWindow?: Duration.DurationInput | undefined
  /** Approximate trimming on every append. Default none: streams grow until trimmed otherwise. */
  readonly trim?: Trim | undefined
  /** The client name Redis shows (`CLIENT LIST`). Default "effect-outbox". */
  readonly connectionName?: string | undefined
}

/**
 * The default `dedupeWindow`.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultDedupeWindow = Duration.hours(24)

/**
 * The server as people know it, for logs and errors: no user or password.
 *
 * @category utils
 * @since 0.1.0
 */
export const describeServer = (options: Pick<Options, "host" | "port" | "db">): string =>
  `Redis at ${options.host ?? "127.0.0.1"}:${options.port ?? 6379}/${options.db ?? 0}`

/**
 * The stream a topic goes to, per the options.
 *
 * @category utils
 * @since 0.1.0
 */
export const streamFor = (options: Pick<Options, "stream" | "streamPrefix">): (topic: string) => string => {
  const stream = options.stream
  if (typeof stream === "string") return () => stream
  if (stream !== undefined) return stream
  const prefix = options.streamPrefix ?? "outbox:"
  return (topic) => `${prefix}${topic}`
}

/**
 * The key that remembers a sent message id, per the options.
 *
 * @category utils
 * @since 0.1.0
 */
export const dedupeKeyFor = (options: Pick<Options, "dedupePrefix">): (id: string) => string => {
  const prefix = options.dedupePrefix ?? "outbox"
  return (id) => `${prefix}:sent:${id}`
}

/**
 * Makes the sender in the current scope. It waits for the first connection,
 * so a wrong password fails here with one clear `ReconnectError` after a
 * single attempt.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fn("RedisStreamsSender.make")(function*(
  options: Options
): Effect.fn.Return<Sender["Type"], Reconnect.ReconnectError, Scope.Scope> {
  return yield* SupervisedSender.make({
    broker: describeServer(options),
    connect: ({ connectTimeout }) =>
      Session.open({
        host: options.host ?? "127.0.0.1",
        port: options.port ?? 6379,
        db: options.db ?? 0,
        username: options.username,
        password: options.password,
        tls: options.tls ?? false,
        connectTimeout,
        connectionName: options.connectionName ?? "effect-outbox"
      }),
    closed: Session.closed,
    publish: () =>
      Session.publish({
        stream: streamFor(options),
        dedupeKey: dedupeKeyFor(options),
        dedupeWindow: Duration.decode(options.dedupeWindow ?? defaultDedupeWindow),
        trim: options.trim
      })
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
 * A `redis://` URL the runner was given could not be used. The message never repeats the URL (it may hold secrets).
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidUrl extends Data.TaggedError("RedisInvalidUrl")<{ readonly problem: string }> {
  override get message() {
    return `Invalid Redis sender URL: ${this.problem}. Expected redis[s]://[[user]:password@]host[:port][/db][?streamPrefix=PREFIX|stream=NAME&dedupePrefix=PREFIX&dedupeWindow=24h&maxLength=N|maxAge=7d]`
  }
}

const millisPerUnit: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

const durationParam = (name: string, text: string) => {
  // "24h", "90s", "500ms", "7d" or a number of milliseconds.
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim())
  const millis = match === null ? 0 : Number(match[1]) * (millisPerUnit[match[2] ?? "ms"] ?? 0)
  return millis > 0
    ? Effect.succeed(Duration.millis(millis))
    : Effect.fail(new InvalidUrl({ problem: `${name} must be a positive duration like 24h, 90s or 500ms` }))
}

const integerParam = (name: string, text: string, min: number) => {
  const value = Number(text)
  return Number.isInteger(value) && value >= min
    ? Effect.succeed(value)
    : Effect.fail(new InvalidUrl({ problem: `${name} must be an integer of at least ${min}` }))
}

/**
 * Options from a URL, as the runner takes them (`--sender redis://…`):
 * `redis[s]://[[user]:password@]host[:port][/db]` with optional query
 * parameters `streamPrefix` or `stream` (one stream for all topics),
 * `dedupePrefix`, `dedupeWindow` (`24h`, `90s`, … or milliseconds) and
 * `maxLength=N` or `maxAge=<duration>` (trimming). The password stays `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const optionsFromUrl = (url: Redacted.Redacted<string>): Effect.Effect<Options, InvalidUrl> =>
  Effect.gen(function*() {
    const parsed = yield* BrokerUrl.parse(Redacted.value(url), ["redis:", "rediss:"]).pipe(
      Either.mapLeft((problem) => new InvalidUrl({ problem }))
    )
    const path = parsed.pathname.replace(/^\//, "")
    const db = path === "" ? 0 : yield* integerParam("the database (the URL's path)", path, 0)
    const query = parsed.searchParams
    const known = ["streamPrefix", "stream", "dedupePrefix", "dedupeWindow", "maxLength", "maxAge"]
    const unknown = Array.from(query.keys()).find((name) => !known.includes(name))
    if (unknown !== undefined) return yield* new InvalidUrl({ problem: `unknown parameter "${unknown}"` })
    const param = (name: string) => Option.fromNullable(query.get(name))
    const maxLength = param("maxLength")
    const maxAge = param("maxAge")
    if (Option.isSome(maxLength) && Option.isSome(maxAge)) {
      return yield* new InvalidUrl({ problem: "give maxLength or maxAge, not both" })
    }
    const trim: Trim | undefined = Option.isSome(maxLength)
      ? { maxLength: yield* integerParam("maxLength", maxLength.value, 1) }
      : Option.isSome(maxAge)
      ? { maxAge: yield* durationParam("maxAge", maxAge.value) }
      : undefined
    const dedupeWindow = param("dedupeWindow")
    const user = decodeURIComponent(parsed.username)
    const password = decodeURIComponent(parsed.password)
    const options: Options = {
      host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: parsed.port === "" ? 6379 : Number(parsed.port),
      db,
      tls: parsed.protocol === "rediss:",
      ...(user === "" ? {} : { username: user }),
      ...(password === "" ? {} : { password: Redacted.make(password) }),
      ...Option.match(param("streamPrefix"), { onNone: () => ({}), onSome: (streamPrefix) => ({ streamPrefix }) }),
      ...Option.match(param("stream"), { onNone: () => ({}), onSome: (stream) => ({ stream }) }),
      ...Option.match(param("dedupePrefix"), { onNone: () => ({}), onSome: (dedupePrefix) => ({ dedupePrefix }) }),
      ...(Option.isSome(dedupeWindow) ? { dedupeWindow: yield* durationParam("dedupeWindow", dedupeWindow.value) } : {}),
      ...(trim === undefined ? {} : { trim })
    }
    return options
  })

/**
 * The sender from a `redis://` URL (see `optionsFromUrl`), with other options on top.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromUrl = (
  url: Redacted.Redacted<string>,
  options: Omit<Options, "host" | "port" | "db" | "username" | "password" | "tls"> = {}
): Layer.Layer<Sender, Reconnect.ReconnectError | InvalidUrl> =>
  Layer.scoped(
    Sender,
    Effect.flatMap(optionsFromUrl(url), (fromUrl) => make({ ...fromUrl, ...options }))
  )
