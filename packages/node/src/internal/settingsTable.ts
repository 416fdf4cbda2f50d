// Every setting of the runner, described once: it drives the flags, the
// parsing, the errors and the README's table (re-exported by RunnerConfig).
// The relay's settings come from core's `RelayConfig`, which owns their
// variables, grammar and defaults; this table adds their flags.
import { RelayConfig } from "@effect-outbox/core"

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

/** A relay setting as core's `RelayConfig` defines it (variable, form, default), with its flag. */
const fromRelay = (name: RelayConfig.Name, flag: string, override: { readonly description?: string } = {}): Setting => {
  const { default: byDefault, description, env, expected } = RelayConfig.settings[name]
  return { env, flag, description: override.description ?? description, expected, default: byDefault }
}

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
  poolSize: setting({
    env: "OUTBOX_DATABASE_POOL_SIZE",
    flag: "database-pool-size",
    description: "Connections in the Postgres pool (the LISTEN connection and an advisory lock's take one more each).",
    expected: "an integer from 1 to 100",
    default: "10"
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
  batchSize: fromRelay("batchSize", "batch-size"),
  concurrency: fromRelay("concurrency", "concurrency"),
  pollInterval: fromRelay("pollInterval", "poll-interval"),
  lease: fromRelay("lease", "lease"),
  sendTimeout: fromRelay("sendTimeout", "send-timeout", { description: "Per request: a slower delivery fails and is retried." }),
  shutdownTimeout: fromRelay("shutdownTimeout", "shutdown-timeout"),
  retry: fromRelay("retry", "retry"),
  webhookConcurrency: setting({
    env: "OUTBOX_WEBHOOK_CONCURRENCY",
    flag: "webhook-concurrency",
    description: "Webhook requests in flight at once per batch.",
    expected: "an integer from 1 to 1000",
    default: "10"
  }),
  leadership: setting({
    env: "OUTBOX_LEADERSHIP",
    flag: "leadership",
    description: "always (relays share the table) or advisory-lock (one relay drains; Postgres only).",
    expected: "always or advisory-lock",
    default: "always"
  }),
  ordered: fromRelay("ordered", "ordered"),
  deadLetteredKey: fromRelay("deadLetteredKey", "dead-lettered-key"),
  claimMode: fromRelay("claimMode", "claim-mode"),
  maxLostClaims: fromRelay("maxLostClaims", "max-lost-claims"),
  httpPort: setting({
    env: "OUTBOX_HTTP_PORT",
    flag: "http-port",
    description: "Port of /healthz, /readyz, /metrics and the admin API; off to disable.",
    expected: "an integer from 0 to 65535, or off",
    default: "9470"
  }),
  httpHost: setting({
    env: "OUTBOX_HTTP_HOST",
    flag: "http-host",
    description: "Interface the HTTP server binds (127.0.0.1 for this host only, :: or 0.0.0.0 for all).",
    expected: "an IP address or host name",
    default: "0.0.0.0"
  }),
  adminToken: setting({
    env: "OUTBOX_ADMIN_TOKEN",
    flag: "admin-token",
    description: "Bearer token of the admin API (/admin/…); without it the admin API is closed.",
    expected: "a string of at least 16 characters",
    secret: true
  }),
  adminReadToken: setting({
    env: "OUTBOX_ADMIN_READ_TOKEN",
    flag: "admin-read-token",
    description: "A read-only token of the admin API and the dashboard: it can see everything but not replay or purge.",
    expected: "a string of at least 16 characters, other than the admin token",
    secret: true
  }),
  stallThreshold: setting({
    env: "OUTBOX_STALL_THRESHOLD",
    flag: "stall-threshold",
    description: "Not ready when messages wait and the relay settled nothing for this long.",
    expected: "a duration such as 10m",
    default: "10m"
  }),
  failureThreshold: setting({
    env: "OUTBOX_FAILURE_THRESHOLD",
    flag: "failure-threshold",
    description: "Not ready when the relay's drain steps (claims) have failed in a row for this long.",
    expected: "a duration such as 30s",
    default: "30s"
  }),
  logLevel: setting({
    env: "OUTBOX_LOG_LEVEL",
    flag: "log-level",
    description: "The least severe log level printed.",
    expected: "debug, info, warning, error or none",
    default: "info"
  }),
  logFormat: setting({
    env: "OUTBOX_LOG_FORMAT",
    flag: "log-format",
    description: "text (one readable line per entry) or json (one JSON object per line, for log collectors).",
    expected: "text or json",
    default: "text"
  })
} as const
