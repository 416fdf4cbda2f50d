import { RetryPolicy } from "@effect-outbox/core"
import { RunnerConfig } from "@effect-outbox/node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Option, Redacted } from "effect"
import { readFileSync } from "node:fs"
import * as DeadLetterQuery from "../src/internal/deadLetterQuery.js"

const withFlags = (flags: RunnerConfig.Flags) => <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.withConfigProvider(effect, RunnerConfig.providerFor(flags))

describe("RunnerConfig", () => {
  it.effect("defaults apply; a flag wins over the environment", () =>
    Effect.gen(function*() {
      const relay = yield* RunnerConfig.relay.pipe(withFlags({ batchSize: "250" }))
      expect(relay.batchSize).toBe(250)
      expect(Duration.toMillis(relay.pollInterval)).toBe(1_000)
      expect(relay.leadership).toBe("always")
      expect(relay.ordered).toBe(false)
      expect(relay.deadLetteredKey).toBe("block")
      expect(relay.claimMode).toBe("lease")
      expect(relay.maxLostClaims).toBe(20)
      expect(Duration.toSeconds((yield* RunnerConfig.http.pipe(withFlags({}))).failureThreshold)).toBe(30)
      expect((yield* RunnerConfig.relay.pipe(withFlags({ claimMode: "transactional" }))).claimMode).toBe("transactional")
      const database = yield* RunnerConfig.database.pipe(withFlags({}))
      expect(database).toMatchObject({ dataDir: ".outbox", schema: "public", tablePrefix: "outbox" })
      expect(Option.isNone(database.url)).toBe(true)
    }))

  it.effect("secrets come back redacted", () =>
    Effect.gen(function*() {
      const sender = yield* RunnerConfig.sender.pipe(
        withFlags({ sender: "https://u:p4ss@hooks.example/x", signingSecret: "whsec_abc" })
      )
      expect(String(sender.url)).not.toContain("p4ss")
      expect(Redacted.value(sender.url)).toBe("https://u:p4ss@hooks.example/x")
    }))

  it.effect("a bad value fails with one line naming the setting and the expected form", () =>
    Effect.gen(function*() {
      const error = yield* RunnerConfig.relay.pipe(withFlags({ concurrency: "0" }), Effect.flip)
      expect(error.message).toBe(`Invalid OUTBOX_CONCURRENCY (--concurrency): got "0"; expected an integer from 1 to 64`)
      const port = yield* RunnerConfig.http.pipe(withFlags({ httpPort: "70000" }), Effect.flip)
      expect(port.message).toContain("OUTBOX_HTTP_PORT")
      expect((yield* RunnerConfig.http.pipe(withFlags({ httpPort: "off" }))).port).toBeUndefined()
    }))

  it.effect("ordered delivery: true, false or topic names; a dead-lettered key blocks or skips", () =>
    Effect.gen(function*() {
      const every = yield* RunnerConfig.relay.pipe(withFlags({ ordered: "true", deadLetteredKey: "skip" }))
      expect([every.ordered, every.deadLetteredKey]).toEqual([true, "skip"])
      const some = yield* RunnerConfig.relay.pipe(withFlags({ ordered: " order.created, order.paid " }))
      expect([some.ordered, some.deadLetteredKey]).toEqual([["order.created", "order.paid"], "block"])
      const off = yield* RunnerConfig.relay.pipe(withFlags({ ordered: "false", deadLetteredKey: "block" }))
      expect([off.ordered, off.deadLetteredKey]).toEqual([false, "block"])
    }))

  it.effect("the ordered settings are read from their variables when no flag is given", () =>
    Effect.gen(function*() {
      const relay = yield* RunnerConfig.relay.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OUTBOX_ORDERED", "order.created"], ["OUTBOX_DEAD_LETTERED_KEY", "skip"]])))
      )
      expect([relay.ordered, relay.deadLetteredKey]).toEqual([["order.created"], "skip"])
    }))

  it.effect("bad ordered settings fail with one line naming the setting, the expected form and the value", () =>
    Effect.gen(function*() {
      const emptyTopic = yield* RunnerConfig.relay.pipe(withFlags({ ordered: "order.created,,order.paid" }), Effect.flip)
      expect(emptyTopic.message).toBe(
        `Invalid OUTBOX_ORDERED (--ordered): got "order.created,,order.paid"; expected true or false (also yes/no, on/off, 1/0) or a comma-separated list of topic names`
      )
      const policy = yield* RunnerConfig.relay.pipe(withFlags({ ordered: "true", deadLetteredKey: "drop" }), Effect.flip)
      expect(policy.message).toBe(`Invalid OUTBOX_DEAD_LETTERED_KEY (--dead-lettered-key): got "drop"; expected block or skip`)
      expect(policy.message).not.toContain("\n")
    }))

  it("the ordered grammar: true, false or topic names, and nothing else", () => {
    expect(RunnerConfig.parseOrdered("true")).toBe(true)
    expect(RunnerConfig.parseOrdered(" TRUE ")).toBe(true)
    expect(RunnerConfig.parseOrdered("false")).toBe(false)
    expect(RunnerConfig.parseOrdered("orders")).toEqual(["orders"])
    expect(RunnerConfig.parseOrdered("a, b ,c")).toEqual(["a", "b", "c"])
    for (const [spelling, value] of [["yes", true], ["ON", true], ["1", true], ["no", false], ["off", false], ["0", false]] as const) {
      expect(RunnerConfig.parseOrdered(spelling), spelling).toBe(value)
    }
    for (const bad of ["", ",", "a,", ",a", "a,,b", "true,orders", "orders,false", "orders,yes"]) {
      expect(RunnerConfig.parseOrdered(bad), JSON.stringify(bad)).toBeUndefined()
    }
  })

  it.effect("settings and the dead-letter filter read durations alike: a bare number is seconds, days are allowed", () =>
    Effect.gen(function*() {
      for (const [text, millis] of [["90", 90_000], ["30", 30_000], ["1d", 86_400_000], ["7d", 604_800_000], ["1.5h", 5_400_000], ["2 minutes", 120_000], ["500ms", 500]] as const) {
        const relay = yield* withFlags({ lease: text })(RunnerConfig.relay)
        expect(Duration.toMillis(relay.lease), text).toBe(millis)
        const query = DeadLetterQuery.parse({ olderThan: text })
        expect(Either.map(query, (parsed) => Option.map(Option.fromNullable(parsed.filter.olderThan), Duration.toMillis)), text)
          .toEqual(Either.right(Option.some(millis)))
      }
      const setting = yield* Effect.flip(withFlags({ lease: "soon" })(RunnerConfig.relay))
      expect(setting.message).toBe(`Invalid OUTBOX_LEASE (--lease): got "soon"; expected a duration such as 30s`)
      const filter = DeadLetterQuery.parse({ olderThan: "soon" })
      expect(Either.map(Either.flip(filter), (error) => error.message))
        .toEqual(Either.right(`Invalid query parameter "olderThan": expected a duration like 90 (seconds), 15m, 2h or 7d`))
    }))

  it("durations and the retry grammar parse, and nonsense does not", () => {
    expect(Duration.toMillis(RunnerConfig.parseDuration("500ms") ?? Duration.zero)).toBe(500)
    expect(Duration.toMillis(RunnerConfig.parseDuration("1.5h") ?? Duration.zero)).toBe(5_400_000)
    expect(RunnerConfig.parseDuration("soon")).toBeUndefined()
    expect(RunnerConfig.parseRetry("none")).toBe(RetryPolicy.never)
    for (const good of ["exponential-jitter", "exponential:base=100ms,cap=10s,attempts=3", "fixed:delay=5s,attempts=2"]) {
      expect(RunnerConfig.parseRetry(good), good).toBeDefined()
    }
    for (const bad of ["forever", "fixed", "fixed:attempts=3", "exponential:base=fast", "exponential:attempts=0", "exponential:jitter=1"]) {
      expect(RunnerConfig.parseRetry(bad), bad).toBeUndefined()
    }
  })

  it.effect("a parsed fixed policy retries per its delay and gives up after its attempts", () =>
    Effect.gen(function*() {
      const policy = RunnerConfig.parseRetry("fixed:delay=5s,attempts=2")
      if (policy === undefined) return expect.unreachable()
      const first = yield* RetryPolicy.decide(policy, { attempt: 1, topic: "t", error: "e" })
      const second = yield* RetryPolicy.decide(policy, { attempt: 2, topic: "t", error: "e" })
      expect(first).toEqual(RetryPolicy.Decision.Retry({ delay: Duration.millis(5_000) }))
      expect(second._tag).toBe("Exhausted")
    }))

  it.effect("the read-only admin token: at least 16 characters, and not the admin token itself (never echoed)", () =>
    Effect.gen(function*() {
      const admin = "admin-token-0123456789"
      const ok = yield* RunnerConfig.http.pipe(withFlags({ adminToken: admin, adminReadToken: "reader-token-0123456789" }))
      expect(Option.map(ok.adminReadToken, Redacted.value)).toEqual(Option.some("reader-token-0123456789"))
      const short = yield* RunnerConfig.http.pipe(withFlags({ adminReadToken: "short-one" }), Effect.flip)
      expect(short.message).toBe(
        "Invalid OUTBOX_ADMIN_READ_TOKEN (--admin-read-token): it is too short; expected a string of at least 16 characters, other than the admin token"
      )
      const same = yield* RunnerConfig.http.pipe(withFlags({ adminToken: admin, adminReadToken: admin }), Effect.flip)
      expect(same.message).toContain("it is the admin token")
      expect(same.message).not.toContain(admin)
    }))

  it.effect("values that cannot work are refused up front, one line naming the setting, what was given and what is expected", () =>
    Effect.gen(function*() {
      const refused = <A>(effect: Effect.Effect<A, RunnerConfig.InvalidSetting>, flags: RunnerConfig.Flags) =>
        Effect.map(Effect.flip(withFlags(flags)(effect)), (error) => error.message)
      const cases: ReadonlyArray<readonly [Effect.Effect<unknown, RunnerConfig.InvalidSetting>, RunnerConfig.Flags, string]> = [
        [RunnerConfig.relay, { pollInterval: "0s" }, `Invalid OUTBOX_POLL_INTERVAL (--poll-interval): got "0s" (zero cannot work here); expected a duration such as 500ms, 1s, 2m`],
        [RunnerConfig.relay, { lease: "0ms" }, `Invalid OUTBOX_LEASE (--lease): got "0ms" (zero cannot work here)`],
        [RunnerConfig.relay, { sendTimeout: "0s" }, `Invalid OUTBOX_SEND_TIMEOUT (--send-timeout): got "0s" (zero cannot work here)`],
        [RunnerConfig.relay, { retry: "exponential:base=5m,cap=1s" }, `Invalid OUTBOX_RETRY (--retry): got "exponential:base=5m,cap=1s" (cap 1s is below base 5m)`],
        [RunnerConfig.relay, { retry: "exponential-jitter:attempts=1e3" }, `Invalid OUTBOX_RETRY (--retry): got "exponential-jitter:attempts=1e3" (attempts must be a whole number of at least 1)`],
        [RunnerConfig.relay, { webhookConcurrency: "0" }, `Invalid OUTBOX_WEBHOOK_CONCURRENCY (--webhook-concurrency): got "0"`],
        [RunnerConfig.sender, { sender: "http://h/x", signingSecret: "whsec_not base64!" }, `Invalid OUTBOX_SIGNING_SECRET (--signing-secret): a secret starting with "whsec_" must continue with the key in base64`],
        [RunnerConfig.database, { databaseUrl: "postgres://u:pw-SECRET@db:54x2/app" }, `Invalid OUTBOX_DATABASE_URL (--database-url): its port is not a number; expected a postgres:// or postgresql:// URL`],
        [RunnerConfig.database, { schema: "app; drop table x" }, `Invalid OUTBOX_SCHEMA (--schema): got "app; drop table x"; expected a plain SQL identifier`],
        [RunnerConfig.database, { tablePrefix: "my-outbox" }, `Invalid OUTBOX_TABLE_PREFIX (--table-prefix): got "my-outbox"; expected a plain SQL identifier`],
        [RunnerConfig.database, { poolSize: "many" }, `Invalid OUTBOX_DATABASE_POOL_SIZE (--database-pool-size): got "many"`],
        [RunnerConfig.http, { httpHost: "local host" }, `Invalid OUTBOX_HTTP_HOST (--http-host): got "local host"`],
        [RunnerConfig.http, { stallThreshold: "0s" }, `Invalid OUTBOX_STALL_THRESHOLD (--stall-threshold): got "0s" (zero cannot work here)`],
        [RunnerConfig.http, { failureThreshold: "soon" }, `Invalid OUTBOX_FAILURE_THRESHOLD (--failure-threshold): got "soon"; expected a duration such as 30s`],
        [RunnerConfig.relay, { maxLostClaims: "0" }, `Invalid OUTBOX_MAX_LOST_CLAIMS (--max-lost-claims): got "0"; expected an integer from 1 to 1000`],
        [RunnerConfig.relay, { maxLostClaims: "2.5" }, `Invalid OUTBOX_MAX_LOST_CLAIMS (--max-lost-claims): got "2.5"`],
        [RunnerConfig.logging, { logLevel: "loud" }, `Invalid OUTBOX_LOG_LEVEL (--log-level): got "loud"; expected debug, info, warning, error or none`],
        [RunnerConfig.logging, { logFormat: "xml" }, `Invalid OUTBOX_LOG_FORMAT (--log-format): got "xml"; expected text or json`]
      ]
      for (const [effect, flags, expected] of cases) {
        const message = yield* refused(effect, flags)
        expect(message, JSON.stringify(flags)).toContain(expected)
        expect(message).not.toContain("\n")
        expect(message).not.toContain("pw-SECRET")
      }
      // Zero has a meaning for the shutdown timeout (stop at once): accepted.
      expect(Duration.toMillis((yield* withFlags({ shutdownTimeout: "0s" })(RunnerConfig.relay)).shutdownTimeout)).toBe(0)
      const set = yield* withFlags({
        httpHost: "127.0.0.1",
        poolSize: "3",
        webhookConcurrency: "25",
        maxLostClaims: "5",
        failureThreshold: "2m",
        logLevel: "debug",
        logFormat: "json"
      })(
        Effect.all({ http: RunnerConfig.http, database: RunnerConfig.database, relay: RunnerConfig.relay, logging: RunnerConfig.logging })
      )
      expect([
        set.http.host,
        set.database.poolSize,
        set.relay.webhookConcurrency,
        set.relay.maxLostClaims,
        Duration.toSeconds(set.http.failureThreshold),
        set.logging.level._tag,
        set.logging.format
      ]).toEqual(["127.0.0.1", 3, 25, 5, 120, "Debug", "json"])
    }))

  it("the README documents every setting", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    for (const setting of Object.values(RunnerConfig.settings) as Array<RunnerConfig.Setting>) {
      expect(readme, setting.env).toContain(`| \`${setting.env}\` | \`--${setting.flag}\` |`)
    }
  })
})
