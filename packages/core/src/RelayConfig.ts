/**
 * The relay's settings read through Effect `Config`, with the variable names
 * and grammar of the runner (`outbox run`): `OUTBOX_BATCH_SIZE`,
 * `OUTBOX_LEASE`, `OUTBOX_RETRY`, … A setting left unset takes the relay's
 * default; a bad one fails as invalid config naming the variable, what was
 * given and what is expected. Durations use `DurationText`'s grammar (a bare
 * number is seconds).
 *
 * | variable | relay option | default |
 * | --- | --- | --- |
 * | `OUTBOX_BATCH_SIZE` | `batchSize` | 100 |
 * | `OUTBOX_CONCURRENCY` | `concurrency` | 1 |
 * | `OUTBOX_POLL_INTERVAL` | `pollInterval` | 1s |
 * | `OUTBOX_LEASE` | `leaseFor` | 30s |
 * | `OUTBOX_SEND_TIMEOUT` | `sendTimeout` | 10s |
 * | `OUTBOX_SHUTDOWN_TIMEOUT` | `shutdownTimeout` | 30s |
 * | `OUTBOX_RETRY` | `retryPolicy` | exponential-jitter:base=1s,cap=5m,attempts=10 |
 * | `OUTBOX_ORDERED` | `ordered` | false |
 * | `OUTBOX_DEAD_LETTERED_KEY` | `deadLetteredKey` | block |
 * | `OUTBOX_CLAIM_MODE` | `claimMode` | lease |
 * | `OUTBOX_MAX_LOST_CLAIMS` | `maxLostClaims` | 20 |
 *
 * @example
 * import { RelayConfig } from "@effect-outbox/core"
 *
 * // The relay, configured from the environment; `topics` is code, not config.
 * const RelayLive = RelayConfig.layerFromEnv({ freshFirst: true })
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Parse from "./internal/settingText.js"
import type { OutboxStore } from "./OutboxStore.js"
import * as Relay from "./Relay.js"
import type * as RetryPolicy from "./RetryPolicy.js"
import type { Sender } from "./Sender.js"

export {
  /**
   * A boolean in its usual spellings (true/false, yes/no, on/off, 1/0); `undefined` otherwise.
   *
   * @category config
   * @since 0.1.0
   */
  parseBoolean,
  /**
   * The `ordered` setting: a boolean or comma-separated topic names; `undefined` when it is neither.
   *
   * @category config
   * @since 0.1.0
   */
  parseOrdered
} from "./internal/settingText.js"

/**
 * One relay setting as text: its variable, what it means, its form and default, and its parser.
 *
 * @category models
 * @since 0.1.0
 */
export interface Setting<A> {
  readonly env: string
  readonly description: string
  /** The expected form, as shown in errors and docs. */
  readonly expected: string
  readonly default: string
  /** The value, or the problem with the text (`got "…"`, with why in parentheses). */
  readonly parse: (text: string) => Either.Either<A, string>
}

const setting = <A>(s: Setting<A>): Setting<A> => s

/**
 * Every relay setting, by the name the runner gives it.
 *
 * @category config
 * @since 0.1.0
 */
export const settings = {
  batchSize: setting({
    env: "OUTBOX_BATCH_SIZE",
    description: "Messages claimed per batch.",
    expected: "an integer from 1 to 10000",
    default: "100",
    parse: Parse.integer(1, 10_000)
  }),
  concurrency: setting({
    env: "OUTBOX_CONCURRENCY",
    description: "Batches in flight at once.",
    expected: "an integer from 1 to 64",
    default: "1",
    parse: Parse.integer(1, 64)
  }),
  pollInterval: setting({
    env: "OUTBOX_POLL_INTERVAL",
    description: "The fallback: longest wait between claims when idle. NOTIFY and due times (retries, delayed messages) wake the relay sooner.",
    expected: "a duration such as 500ms, 1s, 2m",
    default: "1s",
    parse: Parse.duration()
  }),
  lease: setting({
    env: "OUTBOX_LEASE",
    description: "How long a claimed batch is leased (renewed while a send runs long, so it may be below the send timeout).",
    expected: "a duration such as 30s",
    default: "30s",
    parse: Parse.duration()
  }),
  sendTimeout: setting({
    env: "OUTBOX_SEND_TIMEOUT",
    description: "A send of one batch taking longer fails every message in it (they are retried).",
    expected: "a duration such as 10s",
    default: "10s",
    parse: Parse.duration()
  }),
  shutdownTimeout: setting({
    env: "OUTBOX_SHUTDOWN_TIMEOUT",
    description: "On SIGTERM/SIGINT, how long in-flight batches may take to finish.",
    expected: "a duration such as 30s",
    default: "30s",
    // Zero has a meaning here: stop at once, leaving in-flight batches to their leases.
    parse: Parse.duration({ allowZero: true })
  }),
  retry: setting({
    env: "OUTBOX_RETRY",
    description: "Retry policy: exponential-jitter, exponential or fixed, with options; or none.",
    expected:
      "exponential-jitter[:base=1s,cap=5m,attempts=10], exponential[:base=…,cap=…,attempts=…], fixed:delay=5s[,attempts=10] or none",
    default: "exponential-jitter:base=1s,cap=5m,attempts=10",
    parse: Parse.retry
  }),
  ordered: setting({
    env: "OUTBOX_ORDERED",
    description:
      "Deliver messages with the same key in publish order: true for every topic, or the ordered topics comma-separated; false leaves delivery unordered. A key never has two messages in flight; unkeyed messages stay unordered. Every relay on one outbox must agree.",
    expected: "true or false (also yes/no, on/off, 1/0) or a comma-separated list of topic names",
    default: "false",
    parse: Parse.ordered
  }),
  deadLetteredKey: setting({
    env: "OUTBOX_DEAD_LETTERED_KEY",
    description:
      "With ordered delivery, what a dead-lettered message does to its key: block parks the key (its later messages wait until the dead letter is replayed or purged: strict order); skip lets the key move on to its next message.",
    expected: "block or skip",
    default: "block",
    parse: Parse.oneOf("block", "skip")
  }),
  claimMode: setting({
    env: "OUTBOX_CLAIM_MODE",
    description:
      "How a batch is held while it is sent. lease: the claim writes a lease, completion writes again (for slow senders such as webhooks). transactional: an open transaction's row locks are the lease and one write settles each message (for fast senders such as brokers); each worker holds one of the OUTBOX_DATABASE_POOL_SIZE pooled connections for the length of its send, so OUTBOX_CONCURRENCY must be below it.",
    expected: "lease or transactional",
    default: "lease",
    parse: Parse.oneOf("lease", "transactional")
  }),
  maxLostClaims: setting({
    env: "OUTBOX_MAX_LOST_CLAIMS",
    description: "How many claims a message may lose to crashes (a lease that expired with no result) before it is dead-lettered Exhausted unsent; counted apart from failed sends.",
    expected: "an integer from 1 to 1000",
    default: "20",
    parse: Parse.integer(1, 1_000)
  })
} as const

/**
 * The name of a relay setting.
 *
 * @category models
 * @since 0.1.0
 */
export type Name = keyof typeof settings

/**
 * The relay settings' values, parsed.
 *
 * @category models
 * @since 0.1.0
 */
export interface Values {
  readonly batchSize: number
  readonly concurrency: number
  readonly pollInterval: Duration.Duration
  readonly lease: Duration.Duration
  readonly sendTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly retry: RetryPolicy.RetryPolicy
  readonly ordered: boolean | ReadonlyArray<string>
  readonly deadLetteredKey: "block" | "skip"
  readonly claimMode: Relay.ClaimMode
  readonly maxLostClaims: number
}

/**
 * One setting as a `Config`: its variable, its default when unset or blank, and its parser.
 *
 * @category config
 * @since 0.1.0
 */
export const settingConfig = <A>(s: Setting<A>): Config.Config<A> =>
  Config.string(s.env).pipe(
    Config.withDefault(s.default),
    Config.mapOrFail((text) =>
      Either.mapLeft(
        s.parse(text.trim() === "" ? s.default : text),
        (problem) => ConfigError.InvalidData([], `Invalid ${s.env}: ${problem}; expected ${s.expected}`)
      )
    ),
    Config.withDescription(s.description)
  )

/**
 * The relay settings as one `Config`, under the runner's variable names.
 *
 * @category config
 * @since 0.1.0
 */
export const values: Config.Config<Values> = Config.all({
  batchSize: settingConfig(settings.batchSize),
  concurrency: settingConfig(settings.concurrency),
  pollInterval: settingConfig(settings.pollInterval),
  lease: settingConfig(settings.lease),
  sendTimeout: settingConfig(settings.sendTimeout),
  shutdownTimeout: settingConfig(settings.shutdownTimeout),
  retry: settingConfig(settings.retry),
  ordered: settingConfig(settings.ordered),
  deadLetteredKey: settingConfig(settings.deadLetteredKey),
  claimMode: settingConfig(settings.claimMode),
  maxLostClaims: settingConfig(settings.maxLostClaims)
})

/**
 * The settings as the relay's options (`OUTBOX_LEASE` is `leaseFor`, `OUTBOX_RETRY` is `retryPolicy`).
 *
 * @category config
 * @since 0.1.0
 */
export const toOptions = (v: Values): Relay.Options => ({
  batchSize: v.batchSize,
  concurrency: v.concurrency,
  pollInterval: v.pollInterval,
  leaseFor: v.lease,
  sendTimeout: v.sendTimeout,
  shutdownTimeout: v.shutdownTimeout,
  retryPolicy: v.retry,
  ordered: v.ordered,
  deadLetteredKey: v.deadLetteredKey,
  claimMode: v.claimMode,
  maxLostClaims: v.maxLostClaims
})

/**
 * The relay's options from `Config`: every setting in the table, unset ones at their defaults.
 *
 * @category config
 * @since 0.1.0
 */
export const config: Config.Config<Relay.Options> = Config.map(values, toOptions)

/**
 * `Relay.layer` with its options read from `config` (the current
 * `ConfigProvider`); `overrides` (e.g. `topics`, a per-topic retry policy) win
 * over what was read.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  overrides: Relay.Options = {}
): Layer.Layer<never, Relay.ConfigError | ConfigError.ConfigError, OutboxStore | Sender> =>
  Layer.unwrapEffect(Effect.map(config, (options) => Relay.layer({ ...options, ...overrides })))

/**
 * `layerConfig` reading the process environment, whatever `ConfigProvider` is current.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFromEnv = (
  overrides: Relay.Options = {}
): Layer.Layer<never, Relay.ConfigError | ConfigError.ConfigError, OutboxStore | Sender> =>
  layerConfig(overrides).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromEnv())))
