import { Sender } from "@effect-outbox/core"
import { NatsSender } from "@effect-outbox/nats"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Redacted, Scope } from "effect"
import {
  adminConnection,
  natsAddress,
  readStream,
  serverWithAuth,
  spawnServer,
  tally,
  testStream,
  watchPublishes
} from "./nats.js"
import { eventually } from "@effect-outbox/test-support/Eventually"
import { cutTwice, relay, republishedCounter } from "@effect-outbox/test-support/RelayRun"
import * as SenderFixtures from "@effect-outbox/test-support/SenderFixtures"
import * as TcpProxy from "@effect-outbox/test-support/TcpProxy"

const { message } = SenderFixtures

/** Builds a sender in its own scope (closed with the test's). */
const buildSender = (options: NatsSender.Options) => SenderFixtures.buildSender(NatsSender.layer(options))

describe("NatsSender", () => {
  it.scopedLive("publishes with Nats-Msg-Id, the app's headers, topic and attempt, and acks on the PubAck", () =>
    Effect.gen(function*() {
      const admin = yield* adminConnection
      const stream = yield* testStream(admin)
      const sender = yield* buildSender({
        servers: `${natsAddress.host}:${natsAddress.port}`,
        subjectPrefix: stream.prefix,
        stream: { name: stream.name }
      })
      const results = yield* sender.send([
        message("m-1", "order.created", { headers: { traceparent: "00-abc-def-01" }, attempts: 3, key: "order-7" }),
        message("m-2", "order.shipped")
      ])
      expect(results).toEqual([Sender.SendResult.Sent({ id: "m-1" }), Sender.SendResult.Sent({ id: "m-2" })])
      const stored = yield* readStream(admin, stream.name)
      expect(stored).toEqual([
        {
          subject: `${stream.prefix}order.created`,
          msgId: "m-1",
          headers: {
            "Nats-Msg-Id": "m-1",
            traceparent: "00-abc-def-01",
            "Outbox-Topic": "order.created",
            "Outbox-Attempt": "3",
            "Outbox-Key": "order-7",
            "Content-Type": "application/json"
          },
          payload: { n: "m-1" }
        },
        expect.objectContaining({ subject: `${stream.prefix}order.shipped`, msgId: "m-2", payload: { n: "m-2" } })
      ])
    }))

  it.scopedLive("a message sent again is stored once: JetStream dedupes on the message id", () =>
    Effect.gen(function*() {
      const admin = yield* adminConnection
      const stream = yield* testStream(admin)
      const sender = yield* buildSender({ servers: `${natsAddress.host}:${natsAddress.port}`, subjectPrefix: stream.prefix })
      yield* sender.send([message("same", "order.created")])
      const again = yield* sender.send([message("same", "order.created", { attempts: 2 })])
      expect(again).toEqual([Sender.SendResult.Sent({ id: "same" })])
      expect(tally(yield* readStream(admin, stream.name))).toMatchObject({ total: 1, distinct: 1 })
    }))

  it.scopedLive("a topic that is no valid subject is rejected; a subject no stream stores fails (retried later)", () =>
    Effect.gen(function*() {
      const admin = yield* adminConnection
      const stream = yield* testStream(admin)
      const sender = yield* buildSender({
        servers: `${natsAddress.host}:${natsAddress.port}`,
        subject: (topic) => (topic === "elsewhere" ? `outbox-unstored-${stream.name}.x` : `${stream.prefix}${topic}`),
        timeout: "2 seconds"
      })
      const results = yield* sender.send([
        message("ok", "order.created"),
        message("bad", "order created"),
        message("nowhere", "elsewhere")
      ])
      expect(results[0]).toEqual(Sender.SendResult.Sent({ id: "ok" }))
      expect(results[1]).toMatchObject({ _tag: "Rejected", id: "bad" })
      expect(results[2]).toEqual(Sender.SendResult.Failed({
        id: "nowhere",
        error: `no JetStream stream stores subject "outbox-unstored-${stream.name}.x"`
      }))
    }))

  it.scopedLive("relays 5,000 messages through the relay; a consumer gets each exactly once", () =>
    Effect.gen(function*() {
      const admin = yield* adminConnection
      const stream = yield* testStream(admin)
      const sender = NatsSender.layer({
        servers: `${natsAddress.host}:${natsAddress.port}`,
        subjectPrefix: stream.prefix,
        stream: { name: stream.name }
      })
      const { ids, resent } = yield* relay(sender, "order.created", 5_000)
      const consumed = tally(yield* readStream(admin, stream.name))
      SenderFixtures.expectEachOnce(consumed, ids)
      expect(resent).toBe(0)
    }), { timeout: 90_000 })

  it.scopedLive("with the connection cut twice mid-run, the sender reconnects and every message arrives", () => {
    const republished = republishedCounter()
    return Effect.gen(function*() {
      const admin = yield* adminConnection
      const stream = yield* testStream(admin)
      const proxy = yield* TcpProxy.make(natsAddress)
      const wire = yield* watchPublishes(admin, stream.prefix)
      const sender = NatsSender.layer({
        servers: `${proxy.host}:${proxy.port}`,
        subjectPrefix: stream.prefix,
        stream: { name: stream.name },
        reconnect: { budget: 5 }
      })
      // Cut twice while a batch is being published: past 1,500 handed over, at once
      // (its publishes are still in the client's buffer); past 3,500, once the server
      // has stored the whole batch while its PubAcks were held back (stored, unconfirmed).
      const { cuts, alongside } = cutTwice(proxy, [1_500, 3_500], {
        what: "the server to store the batch",
        batch: (handedSoFar) => Effect.sync(() => wire.publishes >= handedSoFar)
      })
      const { ids, resent } = yield* relay(sender, "order.created", 5_000, alongside)
      const consumed = tally(yield* readStream(admin, stream.name))
      // Publishes in flight at a cut are re-sent with the same Nats-Msg-Id: JetStream keeps one copy.
      SenderFixtures.expectEachOnce(consumed, ids)
      expect(cuts.length).toBe(2)
      expect(proxy.accepted()).toBeGreaterThanOrEqual(3)
      yield* eventually("the plain subscriber to see every stored message", () => wire.publishes >= 5_000)
      console.log(
        `NATS cut test: cuts during the batches ending at ${cuts.join(" and ")}; connections ${proxy.accepted()}; ` +
          `publishes on the wire ${wire.publishes} (copies dropped by JetStream dedupe: ${wire.publishes - consumed.total}); ` +
          `re-published by the sender after a lost session ${republished.counter.messages}; ` +
          `handed over again by the relay ${resent}; stored ${consumed.total}, duplicates ${consumed.duplicates}`
      )
      // At least the second cut's batch (stored, never confirmed) was published again, and deduped.
      expect(republished.counter.messages).toBeGreaterThanOrEqual(250)
      expect(wire.publishes - consumed.total).toBeGreaterThanOrEqual(250)
    }).pipe(Effect.provide(republished.layer))
  }, { timeout: 90_000 })

  it.scopedLive("a lame-duck announcement moves the sender to a new connection without spending budget", () =>
    Effect.gen(function*() {
      const admin = yield* adminConnection
      const stream = yield* testStream(admin)
      const leaving = yield* spawnServer()
      const proxy = yield* TcpProxy.make(leaving)
      // A budget of 0: a drop would end the sender; only an unbudgeted drain lets it continue.
      const sender = yield* buildSender({
        servers: `${proxy.host}:${proxy.port}`,
        subjectPrefix: stream.prefix,
        reconnect: { budget: 0 }
      })
      // The next connection reaches the shared server, as a rolling restart would hand over.
      proxy.retarget(natsAddress)
      yield* leaving.enterLameDuckMode
      yield* eventually("the sender to reconnect", () => proxy.accepted() === 2)
      expect(yield* sender.send([message("after-ldm", "order.created")])).toEqual([
        Sender.SendResult.Sent({ id: "after-ldm" })
      ])
      expect(tally(yield* readStream(admin, stream.name)).ids).toEqual(new Set(["after-ldm"]))
    }))

  it.scopedLive("wrong credentials: one clear error after exactly one connection attempt", () =>
    Effect.gen(function*() {
      const server = yield* serverWithAuth("outbox", "right-password")
      const proxy = yield* TcpProxy.make(server)
      const scope = yield* Scope.make()
      const exit = yield* buildSender({
        servers: `${proxy.host}:${proxy.port}`,
        credentials: { user: "outbox", password: Redacted.make("wrong-password") }
      }).pipe(Scope.extend(scope), Effect.exit)
      yield* Scope.close(scope, Exit.void)
      expect(exit).toMatchObject({ _tag: "Failure" })
      const error = Exit.isFailure(exit) ? exit.cause : undefined
      const failure = error?._tag === "Fail" ? error.error : undefined
      expect(failure).toMatchObject({ _tag: "ReconnectError", reason: "Auth" })
      expect(failure?.message).toBe(
        `NATS at ${proxy.host}:${proxy.port} refused the credentials or permissions (not retried): Authorization Violation`
      )
      expect(failure?.message).not.toContain("wrong-password")
      expect(proxy.accepted()).toBe(1)
      // And the right password works through the same path.
      const sender = yield* buildSender({
        servers: `${proxy.host}:${proxy.port}`,
        credentials: { user: "outbox", password: Redacted.make("right-password") }
      })
      expect(sender).toBeDefined()
      expect(proxy.accepted()).toBe(2)
    }))

  it.scopedLive("a required stream that does not exist: one clear error, one attempt", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make(natsAddress)
      const error = yield* Effect.flip(
        Effect.scoped(buildSender({ servers: `${proxy.host}:${proxy.port}`, stream: { name: "OUTBOX_TEST_MISSING_STREAM" } }))
      )
      expect(error.message).toContain(
        `refused the sender's configuration (not retried): JetStream stream "OUTBOX_TEST_MISSING_STREAM" does not exist`
      )
      expect(proxy.accepted()).toBe(1)
    }))
})

describe("NatsSender.optionsFromUrl", () => {
  it.effect("reads servers, credentials and stream settings, keeping secrets redacted", () =>
    Effect.gen(function*() {
      const options = yield* NatsSender.optionsFromUrl(
        Redacted.make("nats://relay:s3cret@nats.internal:4333?stream=OUTBOX&createStream=true&subjectPrefix=outbox.")
      )
      expect(options.servers).toEqual(["nats.internal:4333"])
      expect(options.subjectPrefix).toBe("outbox.")
      expect(options.stream).toEqual({ name: "OUTBOX", create: true })
      const credentials = options.credentials
      expect(credentials !== undefined && "password" in credentials ? Redacted.value(credentials.password) : "").toBe("s3cret")
      expect(String(credentials && "password" in credentials ? credentials.password : "")).not.toContain("s3cret")
      const token = (yield* NatsSender.optionsFromUrl(Redacted.make("nats://t0ken@localhost"))).credentials
      expect(token !== undefined && "token" in token ? Redacted.value(token.token) : "").toBe("t0ken")
    }))

  it.effect("an unusable URL is a clear error that does not repeat it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(NatsSender.optionsFromUrl(Redacted.make("http://user:s3cret@host")))
      expect(error.message).toContain("the scheme must be nats:, not http:")
      // Its own tag, so `catchTag` tells it apart from the other senders' URL errors.
      expect(error._tag).toBe("NatsInvalidUrl")
      expect(error.message).not.toContain("s3cret")
    }))
})
