/**
 * The runner's settings, from flags and environment variables through Effect
 * `Config`: a flag wins over its variable, a variable over the default. Every
 * setting is described once, in `settings`, which drives the flags, the
 * parsing, the errors and the README's table.
 *
 * A bad value fails with `InvalidSetting`, whose message is one line naming
 * the setting, the expected form and what was given (never a secret's value).
 *
 * @since 0.1.0
 */
import { RetryPolicy } from "@effect-outbox/core"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/** One setting: its variable, its flag, what it means and what it takes. */
export interface Setting {
  readonly env: string
  readonly flag: string
  readonly description: string
  /** The expected form, as shown in errors and docs. */
  readonly expected: string
  readonly default?: string | undefined
  /** Secrets are read as `Redacted` and never echoed. */
  readonly secret?: boolean | undefined
}

const setting = (s: Setting) => s

/** Every setting of the runner. */
export const settings = {
  databaseUrl: setting({
    env: "OUTBOX_DATABASE_URL",
    flag: "database-url",
    description: "Postgres connection URL. Without it, the embedded PGlite database in --data-dir is used.",
    expected: "a postgres:// or postgresql:// URL",
    secret: true
  }),
  dataDir: setting({
    env: "OUTBOX_DATA_DIR",
    flag: "data-dir",
    description: "Directory of the embedded database (used when no database URL is set).",
    expected: "a directory path",
    default: ".outbox"
  }),
  schema: setting({
    env: "OUTBOX_SCHEMA",
    flag: "schema",
    description: "Schema of the outbox tables.",
    expected: "a plain SQL identifier",
    default: "public"
  }),
  tablePrefix: setting({
    env: "OUTBOX_TABLE_PREFIX",
    flag: "table-prefix",
    description: "Prefix of the outbox tables (several outboxes can share a database).",
    expected: "a plain SQL identifier",
    default: "outbox"
  }),
  sender: setting({
    env: "OUTBOX_SENDER",
    flag: "sender",
    description: "Where to deliver: a webhook (http:// or https://), NATS JetStream (nats://…), RabbitMQ (amqp:// or amqps://…) or Redis Streams (redis:// or rediss://…).",
    expected: "an http(s)://, nats://, amqp(s):// or redis(s):// URL",
    secret: true
  }),
  signingSecret: setting({
    env: "OUTBOX_SIGNING_SECRET",
    flag: "signing-secret",
    description: "Standard Webhooks signing secret (whsec_<base64>, or any string); unsigned without it.",
    expected: "a non-empty string",
    secret: true
  }),
  batchSize: setting({
    env: "OUTBOX_BATCH_SIZE",
    flag: "batch-size",
    description: "Messages claimed per batch.",
    expected: "an integer from 1 to 10000",
    default: "100"
  }),
  concurrency: setting({
    env: "OUTBOX_CONCURRENCY",
    flag: "concurrency",
    description: "Batches in flight at once.",
    expected: "an integer from 1 to 64",
    default: "1"
  }),
  pollInterval: setting({
    env: "OUTBOX_POLL_INTERVAL",
    flag: "poll-interval",
    description: "Longest wait between claims when idle (NOTIFY usually wakes the relay sooner).",
    expected: "a duration such as 500ms, 1s, 2m",
    default: "1s"
  }),
  lease: setting({
    env: "OUTBOX_LEASE",
    flag: "lease",
    description: "How long a claimed batch is leased (renewed while a send runs long).",
    expected: "a duration such as 30s",
    default: "30s"
  }),
  sendTimeout: setting({
    env: "OUTBOX_SEND_TIMEOUT",
    flag: "send-timeout",
    description: "Per request: a slower delivery fails and is retried.",
    expected: "a duration such as 10s",
    default: "10s"
  }),
  shutdownTimeout: setting({
    env: "OUTBOX_SHUTDOWN_TIMEOUT",
    flag: "shutdown-timeout",
    description: "On SIGTERM/SIGINT, how long in-flight batches may take to finish.",
    expected: "a duration such as 30s",
    default: "30s"
  }),
  retry: setting({
    env: "OUTBOX_RETRY",
    flag: "retry",
    description: "Retry policy: exponential-jitter, exponential or fixed, with options; or none.",
    expected:
      "exponential-jitter[:base=1s,cap=5m,attempts=10], exponential[:base=…,cap=…,attempts=…], fixed:delay=5s[,attempts=10] or none",
    default: "exponential-jitter:base=1s,cap=5m,attempts=10"
  }),
  leadership: setting({
    env: "OUTBOX_LEADERSHIP",
    flag: "leadership",
    description: "always (relays share the table) or advisory-lock (one relay drains; Postgres only).",
    expected: "always or advisory-lock",
    default: "always"
  }),
  ordered: setting({
    env: "OUTBOX_ORDERED",
    flag: "ordered",
    description:
      "Deliver messages with the same key in publish order: true for every topic, or the ordered topics comma-separated; false leaves delivery unordered. A key never has two messages in flight; unkeyed messages stay unordered. Every relay on one outbox must agree.",
    expected: "false, true or a comma-separated list of topic names",
    default: "false"
  }),
  deadLetteredKey: setting({
    env: "OUTBOX_DEAD_LETTERED_KEY",
    flag: "dead-lettered-key",
    description:
      "With ordered delivery, what a dead-lettered message does to its key: block parks the key (its later messages wait until the dead letter is replayed or purged: strict order); skip lets the key move on to its next message.",
    expected: "block or skip",
    default: "block"
  }),
  httpPort: setting({
    env: "OUTBOX_HTTP_PORT",
    flag: "http-port",
    description: "Port of /healthz, /readyz, /metrics and the admin API; off to disable.",
    expected: "an integer from 0 to 65535, or off",
    default: "9470"
  }),
  adminToken: setting({
    env: "OUTBOX_ADMIN_TOKEN",
    flag: "admin-token",
    description: "Bearer token of the admin API (/admin/…); without it the admin API is closed.",
    expected: "a string of at least 16 characters",
    secret: true
  }),
  stallThreshold: setting({
    env: "OUTBOX_STALL_THRESHOLD",
    flag: "stall-threshold",
    description: "Not ready when messages wait and the relay settled nothing for this long.",
    expected: "a duration such as 10m",
    default: "10m"
  })
} as const

/** The name of a setting. */
export type Name = keyof typeof settings

/** A setting had a bad value, or a needed one was missing. `message` is the one line to print. */
export class InvalidSetting extends Data.TaggedError("InvalidSetting")<{
  readonly setting: Setting
  readonly problem: string
}> {
  override get message() {
    return `Invalid ${this.setting.env} (--${this.setting.flag}): ${this.problem}; expected ${this.setting.expected}`
  }
}

const invalid = (name: Name, given: string) =>
  new InvalidSetting({
    setting: settings[name],
    problem: settings[name].secret === true ? "the value given is not valid" : `got ${JSON.stringify(given)}`
  })

/** Flag values by setting name, as the CLI parsed them (absent when not given). */
export type Flags = Partial<Record<Name, string>>

/** A provider reading flags first, then the environment. */
export const providerFor = (flags: Flags): ConfigProvider.ConfigProvider => {
  const fromFlags = new Map<string, string>()
  for (const [name, value] of Object.entries(flags) as Array<[Name, string | undefined]>) {
    if (value !== undefined) fromFlags.set(settings[name].env, value)
  }
  return ConfigProvider.fromMap(fromFlags).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
}

/** The raw text of a setting, or its default. */
const raw = (name: Name): Effect.Effect<Option.Option<string>> =>
  Config.option(Config.string(settings[name].env)).pipe(
    Effect.orDie, // reading an optional string cannot fail: only parsing below can
    Effect.map((value) =>
      Option.orElse(
        Option.filter(value, (text) => text.trim().length > 0),
        () => Option.fromNullable(settings[name].default)
      )
    )
  )

const required = (name: Name) =>
  Effect.flatMap(raw(name), Option.match({
    onNone: () => Effect.fail(new InvalidSetting({ setting: settings[name], problem: "it is not set" })),
    onSome: Effect.succeed
  }))

const withDefault = (name: Name) =>
  Effect.map(raw(name), Option.getOrElse(() => settings[name].default ?? ""))

const integer = (name: Name, min: number, max: number) =>
  Effect.flatMap(withDefault(name), (text) => {
    const value = Number(text)
    return /^\d+$/.test(text.trim()) && value >= min && value <= max ? Effect.succeed(value) : Effect.fail(invalid(name, text))
  })

const units: Record<string, number> = {
  ms: 1, millis: 1, millisecond: 1, milliseconds: 1,
  s: 1_000, sec: 1_000, second: 1_000, seconds: 1_000,
  m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hour: 3_600_000, hours: 3_600_000
}

/** Parses `500ms`, `1s`, `2 minutes`, `1.5h`; `undefined` when it is not a duration. */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(text.trim().toLowerCase())
  const factor = match?.[2] === undefined ? undefined : units[match[2]]
  return match?.[1] === undefined || factor === undefined ? undefined : Duration.millis(Number(match[1]) * factor)
}

const duration = (name: Name) =>
  Effect.flatMap(withDefault(name), (text) => {
    const value = parseDuration(text)
    return value === undefined ? Effect.fail(invalid(name, text)) : Effect.succeed(value)
  })

const secret = (name: Name): Effect.Effect<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(Config.redacted(settings[name].env)).pipe(
    Effect.orDie,
    Effect.map(Option.filter((value) => Redacted.value(value).length > 0))
  )

/** Parses the retry grammar of `OUTBOX_RETRY` into a policy. */
export const parseRetry = (text: string): RetryPolicy.RetryPolicy | undefined => {
  const [kind = "", rest] = text.trim().split(":", 2)
  const options = new Map<string, string>()
  for (const pair of (rest ?? "").split(",").filter((part) => part.length > 0)) {
    const [key, value] = pair.split("=", 2)
    if (key === undefined || value === undefined) return undefined
    options.set(key.trim(), value.trim())
  }
  const known = (...keys: Array<string>) => [...options.keys()].every((key) => keys.includes(key))
  const durationOf = (key: string) => (options.has(key) ? parseDuration(options.get(key) ?? "") : null)
  const attempts = options.has("attempts") ? Number(options.get("attempts")) : 10
  if (!Number.isInteger(attempts) || attempts < 1) return undefined
  const base = durationOf("base")
  const cap = durationOf("cap")
  if (base === undefined || cap === undefined) return undefined
  switch (kind) {
    case "none":
      return options.size === 0 ? RetryPolicy.never : undefined
    case "exponential-jitter":
    case "exponential": {
      if (!known("base", "cap", "attempts")) return undefined
      const build = kind === "exponential" ? RetryPolicy.exponential : RetryPolicy.exponentialJitter
      return build({ base: base ?? undefined, cap: cap ?? undefined, maxAttempts: attempts })
    }
    case "fixed": {
      const delay = durationOf("delay")
      if (!known("delay", "attempts") || delay === null || delay === undefined) return undefined
      return RetryPolicy.fixed({ delay, maxAttempts: attempts })
    }
    default:
      return undefined
  }
}

/**
 * Parses `OUTBOX_ORDERED`: `true` (every topic), `false` (unordered), or
 * comma-separated topic names; `undefined` when it is none of these (an empty
 * name, or `true`/`false` among topic names).
 */
export const parseOrdered = (text: string): boolean | ReadonlyArray<string> | undefined => {
  const trimmed = text.trim()
  const lower = trimmed.toLowerCase()
  if (lower === "true") return true
  if (lower === "false") return false
  const topics = trimmed.split(",").map((topic) => topic.trim())
  // A topic called "true" or "false" is far more likely a typo in a list than a real topic.
  return topics.some((topic) => topic.length === 0 || /^(true|false)$/i.test(topic)) ? undefined : topics
}

/** Where the outbox lives. */
export interface Database {
  readonly url: Option.Option<Redacted.Redacted<string>>
  readonly dataDir: string
  readonly schema: string
  readonly tablePrefix: string
}

/** The database settings (every command needs them). */
export const database: Effect.Effect<Database, InvalidSetting> = Effect.gen(function*() {
  const url = yield* secret("databaseUrl")
  if (Option.isSome(url) && !/^postgres(ql)?:\/\//.test(Redacted.value(url.value))) {
    return yield* invalid("databaseUrl", "")
  }
  return {
    url,
    dataDir: yield* withDefault("dataDir"),
    schema: yield* withDefault("schema"),
    tablePrefix: yield* withDefault("tablePrefix")
  }
})

/** The relay's settings. */
export interface RelaySettings {
  readonly batchSize: number
  readonly concurrency: number
  readonly pollInterval: Duration.Duration
  readonly lease: Duration.Duration
  readonly sendTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly retryPolicy: RetryPolicy.RetryPolicy
  readonly leadership: "always" | "advisory-lock"
  /** `true` for every topic, or the ordered topics' names; `false` for unordered delivery. */
  readonly ordered: boolean | ReadonlyArray<string>
  readonly deadLetteredKey: "block" | "skip"
}

/** The relay's settings, validated. */
export const relay: Effect.Effect<RelaySettings, InvalidSetting> = Effect.gen(function*() {
  const retryText = yield* withDefault("retry")
  const retryPolicy = parseRetry(retryText)
  if (retryPolicy === undefined) return yield* invalid("retry", retryText)
  const leadership = yield* withDefault("leadership")
  if (leadership !== "always" && leadership !== "advisory-lock") return yield* invalid("leadership", leadership)
  const orderedText = yield* withDefault("ordered")
  const ordered = parseOrdered(orderedText)
  if (ordered === undefined) return yield* invalid("ordered", orderedText)
  const deadLetteredKey = yield* withDefault("deadLetteredKey")
  if (deadLetteredKey !== "block" && deadLetteredKey !== "skip") return yield* invalid("deadLetteredKey", deadLetteredKey)
  return {
    batchSize: yield* integer("batchSize", 1, 10_000),
    concurrency: yield* integer("concurrency", 1, 64),
    pollInterval: yield* duration("pollInterval"),
    lease: yield* duration("lease"),
    sendTimeout: yield* duration("sendTimeout"),
    shutdownTimeout: yield* duration("shutdownTimeout"),
    retryPolicy,
    leadership,
    ordered,
    deadLetteredKey
  }
})

/** The kinds of target, by URL scheme. */
export type SenderKind = "webhook" | "nats" | "amqp" | "redis"

const senderKinds: Record<string, SenderKind> = {
  "http:": "webhook",
  "https:": "webhook",
  "nats:": "nats",
  "amqp:": "amqp",
  "amqps:": "amqp",
  "redis:": "redis",
  "rediss:": "redis"
}

/** Where and how to deliver. */
export interface SenderSettings {
  readonly kind: SenderKind
  readonly url: Redacted.Redacted<string>
  readonly signingSecret: Option.Option<Redacted.Redacted<string>>
}

/** The sender's settings; the target is required. */
export const sender: Effect.Effect<SenderSettings, InvalidSetting> = Effect.gen(function*() {
  const url = yield* secret("sender")
  if (Option.isNone(url)) return yield* new InvalidSetting({ setting: settings.sender, problem: "it is not set" })
  let parsed: URL | undefined
  try {
    parsed = new URL(Redacted.value(url.value))
  } catch {
    parsed = undefined // reported just below, without echoing the value
  }
  const kind = parsed === undefined ? undefined : senderKinds[parsed.protocol]
  if (kind === undefined) return yield* invalid("sender", "")
  return { kind, url: url.value, signingSecret: yield* secret("signingSecret") }
})

/** The management HTTP server's settings. */
export interface HttpSettings {
  /** `undefined` when turned off. */
  readonly port: number | undefined
  readonly adminToken: Option.Option<Redacted.Redacted<string>>
  readonly stallThreshold: Duration.Duration
}

/** The HTTP settings, validated. */
export const http: Effect.Effect<HttpSettings, InvalidSetting> = Effect.gen(function*() {
  const portText = yield* withDefault("httpPort")
  const port = portText.trim() === "off" ? undefined : yield* integer("httpPort", 0, 65_535)
  const adminToken = yield* secret("adminToken")
  if (Option.isSome(adminToken) && Redacted.value(adminToken.value).length < 16) {
    return yield* new InvalidSetting({ setting: settings.adminToken, problem: "it is too short" })
  }
  return { port, adminToken, stallThreshold: yield* duration("stallThreshold") }
})

/** Fails with `InvalidSetting` for a setting that must be given. */
export const requireSetting = required
