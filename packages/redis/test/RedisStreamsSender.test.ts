import { Sender } from "@effect-outbox/core"
import { RedisStreamsSender } from "@effect-outbox/redis"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Logger, Redacted, Scope } from "effect"
import { adminClient, readStream, redisAddress, spawnServer, tally, testPrefix } from "./redis.js"
import { cutTwice, relay, republishedCounter } from "@effect-outbox/test-support/RelayRun"
import * as SenderFixtures from "@effect-outbox/test-support/SenderFixtures"
import * as TcpProxy from "@effect-outbox/test-support/TcpProxy"

const { message } = SenderFixtures

/** Builds a sender in the current scope. */
const buildSender = (options: RedisStreamsSender.Options) => SenderFixtures.buildSender(RedisStreamsSender.layer(options))

const shared = { host: redisAddress.host, port: redisAddress.port }

describe("RedisStreamsSender", () => {
  it.scopedLive("appends one entry per message to the topic's stream, with the documented fields", () =>
    Effect.gen(function*() {
      const admin = yield* adminClient()
      const { streamPrefix, dedupePrefix } = yield* testPrefix(admin)
      const sender = yield* buildSender({ ...shared, streamPrefix, dedupePrefix, dedupeWindow: "1 hour" })
      const results = yield* sender.send([
        message("m-1", "order.created", {
          headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
          attempts: 3,
          key: "order-7",
          createdAt: new Date("2026-11-30T10:00:00.000Z")
        }),
        message("m-2", "order.shipped")
      ])
      expect(results).toEqual([Sender.SendResult.Sent({ id: "m-1" }), Sender.SendResult.Sent({ id: "m-2" })])
      const created = yield* readStream(admin, `${streamPrefix}order.created`)
      expect(created.map((stored) => stored.raw)).toEqual([[
        "id",
        "m-1",
        "topic",
        "order.created",
        "key",
        "order-7",
        "attempt",
        "3",
        "createdAt",
        "2026-11-30T10:00:00.000Z",
        "headers",
        `{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`,
        "payload",
        `{"n":"m-1"}`
      ]])
      const shipped = yield* readStream(admin, `${streamPrefix}order.shipped`)
      expect(shipped.map((stored) => stored.entry)).toEqual([{
        id: "m-2",
        topic: "order.shipped",
        key: null,
        attempt: 1,
        createdAt: new Date(0),
        headers: {},
        payload: { n: "m-2" }
      }])
      // The id is remembered for the dedupe window, no longer.
      const ttl = yield* Effect.promise(() => admin.pttl(`${dedupePrefix}:sent:m-1`))
      expect(ttl).toBeGreaterThan(3_500_000)
      expect(ttl).toBeLessThanOrEqual(3_600_000)
    }))

  it.scopedLive("the same batch sent twice (a reply lost) is appended once; one stream for all topics keeps batch order", () =>
    Effect.gen(function*() {
      const admin = yield* adminClient()
      const { streamPrefix, dedupePrefix } = yield* testPrefix(admin)
      const stream = `${streamPrefix}all`
      const sender = yield* buildSender({ ...shared, stream, dedupePrefix })
      const batch = Array.from({ length: 50 }, (_, i) => message(`b-${i}`, i % 2 === 0 ? "order.created" : "order.paid"))
      const first = yield* sender.send(batch)
      const again = yield* sender.send(batch.map((item) => ({ ...item, attempts: 2 })))
      const allSent = batch.map((item) => Sender.SendResult.Sent({ id: item.id }))
      expect(first).toEqual(allSent)
      expect(again).toEqual(allSent)
      const stored = yield* readStream(admin, stream)
      expect(tally(stored)).toMatchObject({ total: 50, duplicates: 0 })
      expect(stored.map((item) => item.entry.id)).toEqual(batch.map((item) => item.id))
      expect(stored.every((item) => item.entry.attempt === 1)).toBe(true)
    }))

  it.scopedLive("a stream key holding another type is Rejected with Redis's reason; the rest of the batch is Sent", () =>
    Effect.gen(function*() {
      const admin = yield* adminClient()
      const { streamPrefix, dedupePrefix } = yield* testPrefix(admin)
      yield* Effect.promise(() => admin.set(`${streamPrefix}taken`, "a string"))
      const sender = yield* buildSender({ ...shared, streamPrefix, dedupePrefix })
      const results = yield* sender.send([
        message("ok", "order.created"),
        message("bad", "taken"),
        message("ok-too", "order.created")
      ])
      expect(results).toEqual([
        Sender.SendResult.Sent({ id: "ok" }),
        Sender.SendResult.Rejected({
          id: "bad",
          error: `Redis refused the append to "${streamPrefix}taken": WRONGTYPE Operation against a key holding the wrong kind of value`
        }),
        Sender.SendResult.Sent({ id: "ok-too" })
      ])
      // The refused append released its dedupe key: once the key is fixed, a replay is appended.
      yield* Effect.promise(() => admin.del(`${streamPrefix}taken`))
      expect(yield* sender.send([message("bad", "taken")])).toEqual([Sender.SendResult.Sent({ id: "bad" })])
      expect(tally(yield* readStream(admin, `${streamPrefix}taken`)).ids).toEqual(new Set(["bad"]))
    }))

  it.scopedLive("trims approximately: MAXLEN ~ n and MINID ~ now − maxAge drop old entries, never the new ones", () =>
    Effect.gen(function*() {
      const admin = yield* adminClient()
      const { streamPrefix, dedupePrefix } = yield* testPrefix(admin)
      // 250 old entries (ids from the epoch's first milliseconds), written directly.
      const fill = (stream: string) =>
        Effect.promise(async () => {
          const pipeline = admin.pipeline()
          for (let i = 1; i <= 250; i++) pipeline.xadd(stream, `1-${i}`, "old", String(i))
          await pipeline.exec()
        })
      yield* fill(`${streamPrefix}by-length`)
      yield* fill(`${streamPrefix}by-age`)
      const byLength = yield* buildSender({ ...shared, streamPrefix, dedupePrefix, trim: { maxLength: 10 } })
      const byAge = yield* buildSender({ ...shared, streamPrefix, dedupePrefix, trim: { maxAge: "1 hour" } })
      const fresh = (topic: string) => Array.from({ length: 10 }, (_, i) => message(`${topic}-${i}`, topic))
      yield* byLength.send(fresh("by-length"))
      yield* byAge.send(fresh("by-age"))
      for (const topic of ["by-length", "by-age"]) {
        const stored = yield* Effect.promise(() => admin.xrange(`${streamPrefix}${topic}`, "-", "+"))
        // `~` trims whole radix-tree nodes (100 entries each by default): fewer old entries, all new ones.
        const old = stored.filter(([id]) => id.startsWith("1-")).length
        expect(old).toBeLessThan(250)
        expect(stored.filter(([id]) => !id.startsWith("1-")).length).toBe(10)
      }
    }))

  it.scopedLive("relays 3,000 messages over two topics: each stream has every message once, in publish order", () =>
    Effect.gen(function*() {
      const admin = yield* adminClient()
      const { streamPrefix, dedupePrefix } = yield* testPrefix(admin)
      const topics = ["order.created", "order.paid"]
      const { ids, resent } = yield* relay(
        RedisStreamsSender.layer({ ...shared, streamPrefix, dedupePrefix }),
        topics,
        3_000
      )
      for (const [index, topic] of topics.entries()) {
        const stored = yield* readStream(admin, `${streamPrefix}${topic}`)
        expect(tally(stored)).toMatchObject({ total: 1_500, distinct: 1_500, duplicates: 0 })
        // The relay published them round-robin: this topic's share, in the order they were published.
        expect(stored.map((item) => item.entry.id)).toEqual(ids.filter((_, i) => i % topics.length === index))
        expect(stored.every((item) => item.entry.topic === topic)).toBe(true)
      }
      expect(resent).toBe(0)
    }), { timeout: 60_000 })

  it.scopedLive("with the connection cut twice mid-batch, every message arrives once: unanswered appends are re-sent and deduped", () => {
    const republished = republishedCounter()
    return Effect.gen(function*() {
      const admin = yield* adminClient()
      const { streamPrefix, dedupePrefix } = yield* testPrefix(admin)
      const stream = `${streamPrefix}order.created`
      const proxy = yield* TcpProxy.make(redisAddress)
      const sender = RedisStreamsSender.layer({
        host: proxy.host,
        port: proxy.port,
        streamPrefix,
        dedupePrefix,
        reconnect: { budget: 5 }
      })
      // Cut twice while a batch is being appended: past 1,000 handed over, at once;
      // past 2,000, once Redis has appended the whole batch while its replies were
      // held back (appended, unconfirmed: the re-sent copies must be deduped).
      const { cuts, alongside } = cutTwice(proxy, [1_000, 2_000], {
        what: "Redis to append the batch",
        batch: (handedSoFar) => Effect.map(Effect.promise(() => admin.xlen(stream)), (length) => length >= handedSoFar)
      })
      const { ids, resent } = yield* relay(sender, ["order.created"], 3_000, alongside)
      const stored = tally(yield* readStream(admin, stream))
      SenderFixtures.expectEachOnce(stored, ids)
      expect(cuts.length).toBe(2)
      expect(proxy.accepted()).toBeGreaterThanOrEqual(3)
      console.log(
        `Redis cut test: cuts during the batches ending at ${cuts.join(" and ")}; connections ${proxy.accepted()}; ` +
          `re-sent by the sender after a lost session ${republished.counter.messages}; ` +
          `handed over again by the relay ${resent}; stored ${stored.total}, duplicates ${stored.duplicates}`
      )
      // At least the second cut's batch (appended, never answered) was sent again, and deduped.
      expect(republished.counter.messages).toBeGreaterThanOrEqual(250)
    }).pipe(Effect.provide(republished.layer))
  }, { timeout: 90_000 })

  it.scopedLive("Redis killed and restarted mid-run: the sender reconnects, nothing is lost, re-sent appends are deduped", () =>
    Effect.gen(function*() {
      // A server of the test's own with an fsync'd append-only file: what Redis answered survives the kill.
      const server = yield* spawnServer(["--appendonly", "yes", "--appendfsync", "always"])
      // The server is the test's own (and goes with it): no prefix to clean up, and the kill closes other connections.
      const streamPrefix = "restart:"
      const dedupePrefix = "restart"
      const sender = RedisStreamsSender.layer({
        host: server.host,
        port: server.port,
        streamPrefix,
        dedupePrefix,
        reconnect: { budget: 20, maxBackoff: "1 second" }
      })
      let restarted = 0
      const { ids } = yield* relay(sender, ["order.created"], 2_000, (handedSoFar) => {
        if (restarted > 0 || handedSoFar < 1_000) return Effect.void
        restarted = handedSoFar
        return server.restart
      })
      expect(restarted).toBeGreaterThanOrEqual(1_000)
      const reader = yield* adminClient(server)
      const stored = tally(yield* readStream(reader, `${streamPrefix}order.created`))
      SenderFixtures.expectEachOnce(stored, ids)
    }), { timeout: 90_000 })

  it.scopedLive("a wrong password: one clear error after exactly one connection, the password in no error or log", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer(["--requirepass", "right-password"])
      const proxy = yield* TcpProxy.make(server)
      const logged: Array<string> = []
      const capture = Logger.add(Logger.make(({ annotations, cause, message }) => {
        logged.push(JSON.stringify({ message, annotations: Array.from(annotations), cause: String(cause) }))
      }))
      const scope = yield* Scope.make()
      const exit = yield* buildSender({
        host: proxy.host,
        port: proxy.port,
        password: Redacted.make("wrong-password")
      }).pipe(Scope.extend(scope), Effect.provide(capture), Effect.exit)
      yield* Scope.close(scope, Exit.void)
      const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(failure).toMatchObject({ _tag: "ReconnectError", reason: "Auth", failures: 0 })
      expect(failure?.message).toBe(
        `Redis at ${proxy.host}:${proxy.port}/0 refused the credentials or permissions (not retried): ` +
          `WRONGPASS invalid username-password pair or user is disabled.`
      )
      expect(proxy.accepted()).toBe(1)
      expect(logged.length).toBeGreaterThan(0)
      for (const text of [failure?.message ?? "", String(exit), ...logged]) expect(text).not.toContain("wrong-password")
      // No password at all is refused the same way; the right one works.
      const none = yield* Effect.flip(Effect.scoped(buildSender({ host: proxy.host, port: proxy.port })))
      expect(none).toMatchObject({ _tag: "ReconnectError", reason: "Auth" })
      expect(none.message).toContain("NOAUTH")
      const sender = yield* buildSender({ host: proxy.host, port: proxy.port, password: Redacted.make("right-password") })
      expect(yield* sender.send([message("in", "order.created")])).toEqual([Sender.SendResult.Sent({ id: "in" })])
      expect(proxy.accepted()).toBe(3)
    }))

  it.scopedLive("a database the server does not have: one clear error, one attempt, nothing appended to database 0", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make(redisAddress)
      const error = yield* Effect.flip(Effect.scoped(buildSender({ host: proxy.host, port: proxy.port, db: 99_999 })))
      expect(error.message).toBe(
        `Redis at ${proxy.host}:${proxy.port}/99999 refused the sender's configuration (not retried): ERR DB index is out of range`
      )
      expect(proxy.accepted()).toBe(1)
    }))
})

describe("RedisStreamsSender.optionsFromUrl", () => {
  it.effect("reads the address, database, TLS, credentials, stream and dedupe settings and trimming; the password stays redacted", () =>
    Effect.gen(function*() {
      const options = yield* RedisStreamsSender.optionsFromUrl(
        Redacted.make("rediss://relay:s3cret@redis.internal:6380/2?streamPrefix=orders:&dedupePrefix=orders&dedupeWindow=6h&maxLength=100000")
      )
      expect(options).toMatchObject({
        host: "redis.internal",
        port: 6380,
        db: 2,
        tls: true,
        username: "relay",
        streamPrefix: "orders:",
        dedupePrefix: "orders",
        dedupeWindow: Duration.hours(6),
        trim: { maxLength: 100_000 }
      })
      expect(options.password === undefined ? "" : Redacted.value(options.password)).toBe("s3cret")
      expect(String(options.password)).not.toContain("s3cret")
      expect(RedisStreamsSender.describeServer(options)).toBe("Redis at redis.internal:6380/2")
      const plain = yield* RedisStreamsSender.optionsFromUrl(Redacted.make("redis://:pw@localhost?stream=events&maxAge=7d"))
      expect(plain).toMatchObject({ host: "localhost", port: 6379, db: 0, tls: false, stream: "events", trim: { maxAge: Duration.days(7) } })
      expect(plain.username).toBeUndefined()
      expect(plain.password === undefined ? "" : Redacted.value(plain.password)).toBe("pw")
    }))

  it.effect("an unusable URL is a clear error that does not repeat it", () =>
    Effect.gen(function*() {
      const problems = yield* Effect.forEach([
        "nats://user:s3cret@host",
        "redis://user:s3cret@host/zero",
        "redis://user:s3cret@host?maxLength=10&maxAge=1h",
        "redis://user:s3cret@host?dedupeWindow=soon",
        "redis://user:s3cret@host?streamprefix=x"
      ], (url) => Effect.flip(RedisStreamsSender.optionsFromUrl(Redacted.make(url))))
      expect(problems.map((error) => error.problem)).toEqual([
        "the scheme must be redis: or rediss:, not nats:",
        "the database (the URL's path) must be an integer of at least 0",
        "give maxLength or maxAge, not both",
        "dedupeWindow must be a positive duration like 24h, 90s or 500ms",
        `unknown parameter "streamprefix"`
      ])
      for (const error of problems) expect(error.message).not.toContain("s3cret")
      // Its own tag, so `catchTag` tells it apart from the other senders' URL errors.
      for (const error of problems) expect(error._tag).toBe("RedisInvalidUrl")
    }))
})
