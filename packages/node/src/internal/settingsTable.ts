// Every setting of the runner, described once: it drives the flags, the
// parsing, the errors and the README's table (re-exported by RunnerConfig).

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
    description: "The fallback: longest wait between claims when idle. NOTIFY and due times (retries, delayed messages) wake the relay sooner.",
    expected: "a duration such as 500ms, 1s, 2m",
    default: "1s"
  }),
  lease: setting({
    env: "OUTBOX_LEASE",
    flag: "lease",
    description: "How long a claimed batch is leased (renewed while a send runs long, so it may be below the send timeout).",
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
  ordered: setting({
    env: "OUTBOX_ORDERED",
    flag: "ordered",
    description:
      "Deliver messages with the same key in publish order: true for every topic, or the ordered topics comma-separated; false leaves delivery unordered. A key never has two messages in flight; unkeyed messages stay unordered. Every relay on one outbox must agree.",
    expected: "true or false (also yes/no, on/off, 1/0) or a comma-separated list of topic names",
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
  claimMode: setting({
    env: "OUTBOX_CLAIM_MODE",
    flag: "claim-mode",
    description:
      "How a batch is held while it is sent. lease: the claim writes a lease, completion writes again (for slow senders such as webhooks). transactional: an open transaction's row locks are the lease and one write settles each message (for fast senders such as brokers); each worker holds one of the OUTBOX_DATABASE_POOL_SIZE pooled connections for the length of its send, so OUTBOX_CONCURRENCY must be below it.",
    expected: "lease or transactional",
    default: "lease"
  }),
  maxLostClaims: setting({
    env: "OUTBOX_MAX_LOST_CLAIMS",
    flag: "max-lost-claims",
    description: "How many claims a message may lose to crashes (a lease that expired with no result) before it is dead-lettered Exhausted unsent; counted apart from failed sends.",
    expected: "an integer from 1 to 1000",
    default: "20"
  }),
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
