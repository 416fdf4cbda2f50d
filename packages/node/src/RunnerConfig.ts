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
import { DurationText, RelayConfig, type RetryPolicy } from "@effect-outbox/core"
import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { isIdentifier } from "./internal/sqlIdentifier.js"
import { duration, integer, invalid, InvalidSetting, relaySetting, required, secret, withDefault } from "./internal/settingsReader.js"
import { settings } from "./internal/settingsTable.js"

export {
  /**
   * One setting of the runner: its variable, its flag, what it means and what it takes.
   *
   * @category models
   * @since 0.1.0
   */
  type Setting,
  /**
   * Every setting of the runner, described once: it drives the flags, the parsing, the errors and the README's table.
   *
   * @category config
   * @since 0.1.0
   */
  settings
} from "./internal/settingsTable.js"

/**
 * The name of a setting.
 *
 * @category models
 * @since 0.1.0
 */
export type Name = keyof typeof settings

export {
  /**
   * A setting had a bad value, or a needed one was missing. `message` is the one line to print.
   *
   * @category errors
   * @since 0.1.0
   */
  InvalidSetting
} from "./internal/settingsReader.js"

/**
 * Flag values by setting name, as the CLI parsed them (absent when not given).
 *
 * @category models
 * @since 0.1.0
 */
export type Flags = Partial<Record<Name, string>>

/**
 * A provider reading flags first, then the environment.
 *
 * @category config
 * @since 0.1.0
 */
export const providerFor = (flags: Flags): ConfigProvider.ConfigProvider => {
  const fromFlags = new Map<string, string>()
  for (const [name, value] of Object.entries(flags) as Array<[Name, string | undefined]>) {
    if (value !== undefined) fromFlags.set(settings[name].env, value)
  }
  return ConfigProvider.fromMap(fromFlags).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
}

export {
  /**
   * Core's `RelayConfig.parseBoolean`, for the runner's own boolean settings.
   *
   * @category config
   * @since 0.1.0
   */
  parseBoolean,
  /**
   * Core's `RelayConfig.parseOrdered`, for the `ordered` setting.
   *
   * @category config
   * @since 0.1.0
   */
  parseOrdered
} from "@effect-outbox/core/RelayConfig"

/**
 * Parses a duration in core's `DurationText` grammar (`90` = seconds, `500ms`, `2 minutes`, `7d`); `undefined` when it is not one.
 *
 * @category config
 * @since 0.1.0
 */
export const parseDuration = (text: string): Duration.Duration | undefined => Option.getOrUndefined(DurationText.parse(text))

/**
 * Parses the retry grammar of `OUTBOX_RETRY` into a policy; `undefined` when it is not valid.
 *
 * @category config
 * @since 0.1.0
 */
export const parseRetry = (text: string): RetryPolicy.RetryPolicy | undefined =>
  Either.getOrUndefined(RelayConfig.settings.retry.parse(text))

/**
 * Where the outbox lives.
 *
 * @category models
 * @since 0.1.0
 */
export interface Database {
  readonly url: Option.Option<Redacted.Redacted<string>>
  readonly dataDir: string
  readonly schema: string
  readonly tablePrefix: string
  /** Connections in the pool (Postgres only). */
  readonly poolSize: number
}

/**
 * The database settings (every command needs them).
 *
 * @category config
 * @since 0.1.0
 */
export const database: Effect.Effect<Database, InvalidSetting> = Effect.gen(function*() {
  const url = yield* secret("databaseUrl")
  if (Option.isSome(url)) {
    const problem = databaseUrlProblem(Redacted.value(url.value))
    if (problem !== undefined) return yield* new InvalidSetting({ setting: settings.databaseUrl, problem })
  }
  const identifier = (name: "schema" | "tablePrefix") =>
    Effect.flatMap(withDefault(name), (text) => isIdentifier(text) ? Effect.succeed(text) : Effect.fail(invalid(name, text)))
  return {
    url,
    dataDir: yield* withDefault("dataDir"),
    schema: yield* identifier("schema"),
    tablePrefix: yield* identifier("tablePrefix"),
    poolSize: yield* integer("poolSize", 1, 100)
  }
})

// What is wrong with a database URL, without repeating it (it may hold a password).
const databaseUrlProblem = (text: string): string | undefined => {
  if (!/^postgres(ql)?:\/\//.test(text)) return "the value given is not valid"
  const port = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?/.exec(text)?.[1]
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return "its port is not a number"
  if (!URL.canParse(text)) return "the value given is not a valid URL"
  return undefined
}

/**
 * The relay's settings: core's `RelayConfig.Values` (`retry` as `retryPolicy`) and the runner's own.
 *
 * @category models
 * @since 0.1.0
 */
export interface RelaySettings extends Omit<RelayConfig.Values, "retry"> {
  readonly retryPolicy: RetryPolicy.RetryPolicy
  readonly leadership: "always" | "advisory-lock"
  /** Webhook requests in flight at once per batch. */
  readonly webhookConcurrency: number
}

/**
 * The relay's settings, validated.
 *
 * @category config
 * @since 0.1.0
 */
export const relay: Effect.Effect<RelaySettings, InvalidSetting> = Effect.gen(function*() {
  const retryPolicy = yield* relaySetting("retry")
  const leadership = yield* withDefault("leadership")
  if (leadership !== "always" && leadership !== "advisory-lock") return yield* invalid("leadership", leadership)
  const ordered = yield* relaySetting("ordered")
  const deadLetteredKey = yield* relaySetting("deadLetteredKey")
  const claimMode = yield* relaySetting("claimMode")
  return {
    batchSize: yield* relaySetting("batchSize"),
    concurrency: yield* relaySetting("concurrency"),
    pollInterval: yield* relaySetting("pollInterval"),
    lease: yield* relaySetting("lease"),
    sendTimeout: yield* relaySetting("sendTimeout"),
    shutdownTimeout: yield* relaySetting("shutdownTimeout"),
    retryPolicy,
    leadership,
    ordered,
    deadLetteredKey,
    claimMode,
    webhookConcurrency: yield* integer("webhookConcurrency", 1, 1_000),
    maxLostClaims: yield* relaySetting("maxLostClaims")
  }
})

/**
 * The kinds of target, by URL scheme.
 *
 * @category models
 * @since 0.1.0
 */
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

/**
 * Where and how to deliver.
 *
 * @category models
 * @since 0.1.0
 */
export interface SenderSettings {
  readonly kind: SenderKind
  readonly url: Redacted.Redacted<string>
  readonly signingSecret: Option.Option<Redacted.Redacted<string>>
}

/**
 * The sender's settings; the target is required.
 *
 * @category config
 * @since 0.1.0
 */
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
  const signingSecret = yield* secret("signingSecret")
  if (Option.isSome(signingSecret)) {
    const problem = WebhookSignature.secretProblem(Redacted.value(signingSecret.value))
    if (problem !== undefined) return yield* new InvalidSetting({ setting: settings.signingSecret, problem })
  }
  return { kind, url: url.value, signingSecret }
})

/**
 * The management HTTP server's settings.
 *
 * @category models
 * @since 0.1.0
 */
export interface HttpSettings {
  /** `undefined` when turned off. */
  readonly port: number | undefined
  readonly host: string
  readonly adminToken: Option.Option<Redacted.Redacted<string>>
  readonly adminReadToken: Option.Option<Redacted.Redacted<string>>
  readonly stallThreshold: Duration.Duration
  /** Not ready once the relay's drain steps have failed in a row this long. */
  readonly failureThreshold: Duration.Duration
}

/**
 * The HTTP settings, validated.
 *
 * @category config
 * @since 0.1.0
 */
export const http: Effect.Effect<HttpSettings, InvalidSetting> = Effect.gen(function*() {
  const portText = yield* withDefault("httpPort")
  const port = portText.trim() === "off" ? undefined : yield* integer("httpPort", 0, 65_535)
  const adminToken = yield* secret("adminToken")
  if (Option.isSome(adminToken) && Redacted.value(adminToken.value).length < 16) {
    return yield* new InvalidSetting({ setting: settings.adminToken, problem: "it is too short" })
  }
  const adminReadToken = yield* secret("adminReadToken")
  if (Option.isSome(adminReadToken)) {
    const value = Redacted.value(adminReadToken.value)
    if (value.length < 16) return yield* new InvalidSetting({ setting: settings.adminReadToken, problem: "it is too short" })
    if (Option.isSome(adminToken) && value === Redacted.value(adminToken.value)) {
      return yield* new InvalidSetting({ setting: settings.adminReadToken, problem: "it is the admin token" })
    }
  }
  const host = (yield* withDefault("httpHost")).trim()
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) return yield* invalid("httpHost", host)
  return {
    port,
    host,
    adminToken,
    adminReadToken,
    stallThreshold: yield* duration("stallThreshold"),
    failureThreshold: yield* duration("failureThreshold")
  }
})

/**
 * How the runner logs.
 *
 * @category models
 * @since 0.1.0
 */
export interface LogSettings {
  readonly level: LogLevel.LogLevel
  readonly format: "text" | "json"
}

const logLevels: Record<string, LogLevel.LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  warn: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
}

/**
 * The log settings, validated.
 *
 * @category config
 * @since 0.1.0
 */
export const logging: Effect.Effect<LogSettings, InvalidSetting> = Effect.gen(function*() {
  const levelText = yield* withDefault("logLevel")
  const level = logLevels[levelText.trim().toLowerCase()]
  if (level === undefined) return yield* invalid("logLevel", levelText)
  const format = (yield* withDefault("logFormat")).trim().toLowerCase()
  if (format !== "text" && format !== "json") return yield* invalid("logFormat", format)
  return { level, format }
})

/**
 * Fails with `InvalidSetting` for a setting that must be given.
 *
 * @category config
 * @since 0.1.0
 */
export const requireSetting = required
