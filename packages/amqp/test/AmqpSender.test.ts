import { Sender } from "@effect-outbox/core"
import { AmqpSender } from "@effect-outbox/amqp"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Redacted, Scope } from "effect"
import * as Crypto from "node:crypto"
import { adminChannel, amqpAddress, amqpUrl, consume, forceClose, tally, testExchange, urlVia } from "./amqp.js"
import { eventually } from "@effect-outbox/test-support/Eventually"
import { cutTwice, relay, republishedCounter } from "@effect-outbox/test-support/RelayRun"
import * as SenderFixtures from "@effect-outbox/test-support/SenderFixtures"
import * as TcpProxy from "@effect-outbox/test-support/TcpProxy"

const { message } = SenderFixtures

/** Builds a sender in the current scope. */
const buildSender = (options: AmqpSender.Options) => SenderFixtures.buildSender(AmqpSender.layer(options))

const distinctCount = (delivered: ReadonlyArray<{ readonly messageId: string }>) =>
  new Set(delivered.map((message) => message.messageId)).size

describe("AmqpSender", () => {
  it.scopedLive("publishes with message_id, the app's headers, topic and attempt, persistent, acked on the confirm", () =>
    Effect.gen(function*() {
      const admin = yield* adminChannel
      const exchange = yield* testExchange(admin)
      const delivered = yield* consume(admin, exchange)
      const sender = yield* buildSender({ url: Redacted.make(amqpUrl), exchange })
      const results = yield* sender.send([
        message("m-1", "order.created", { headers: { traceparent: "00-abc-def-01" }, attempts: 3, key: "order-7" }),
        message("m-2", "order.shipped")
      ])
      expect(results).toEqual([Sender.SendResult.Sent({ id: "m-1" }), Sender.SendResult.Sent({ id: "m-2" })])
      yield* eventually("both deliveries", () => delivered.length === 2)
      expect(delivered[0]).toEqual({
        messageId: "m-1",
        routingKey: "order.created",
        persistent: true,
        contentType: "application/json",
        headers: { traceparent: "00-abc-def-01", "outbox-topic": "order.created", "outbox-attempt": 3, "outbox-key": "order-7" },
        payload: { n: "m-1" }
      })
      expect(delivered[1]).toMatchObject({ messageId: "m-2", routingKey: "order.shipped" })
    }))

  it.scopedLive("a message no queue takes is returned by the broker and Rejected; the rest of the batch is Sent", () =>
    Effect.gen(function*() {
      const admin = yield* adminChannel
      const exchange = yield* testExchange(admin)
      yield* consume(admin, exchange, "order.*")
      const sender = yield* buildSender({ url: Redacted.make(amqpUrl), exchange })
      const results = yield* sender.send([
        message("routed", "order.created"),
        message("unroutable", "nobody.home"),
        message("routed-too", "order.paid")
      ])
      expect(results).toEqual([
        Sender.SendResult.Sent({ id: "routed" }),
        Sender.SendResult.Rejected({
          id: "unroutable",
          error: `unroutable: no queue is bound to exchange "${exchange}" for routing key "nobody.home" (312 NO_ROUTE)`
        }),
        Sender.SendResult.Sent({ id: "routed-too" })
      ])
    }))

  it.scopedLive("relays 5,000 messages through the relay; the consumer gets each exactly once", () =>
    Effect.gen(function*() {
      const admin = yield* adminChannel
      const exchange = yield* testExchange(admin)
      const delivered = yield* consume(admin, exchange)
      const { ids, resent } = yield* relay(
        AmqpSender.layer({ url: Redacted.make(amqpUrl), exchange }),
        "order.created",
        5_000
      )
      yield* eventually("5,000 deliveries", () => delivered.length >= 5_000)
      const consumed = tally(delivered)
      SenderFixtures.expectEachOnce(consumed, ids)
      expect(resent).toBe(0)
    }), { timeout: 90_000 })

  it.scopedLive("with the connection cut twice mid-run, the sender reconnects and every message arrives", () => {
    const republished = republishedCounter()
    return Effect.gen(function*() {
      const admin = yield* adminChannel
      const exchange = yield* testExchange(admin)
      const delivered = yield* consume(admin, exchange)
      const proxy = yield* TcpProxy.make(amqpAddress)
      const sender = AmqpSender.layer({ url: urlVia(proxy), exchange, reconnect: { budget: 5 } })
      // Cut twice while a batch is being published: past 1,500 handed over, at once
      // (its publishes are still in the client's buffer); past 3,500, once the consumer
      // has the whole batch while the broker's confirms were held back (routed, unconfirmed).
      const { cuts, alongside } = cutTwice(proxy, [1_500, 3_500], {
        what: "the consumer to get the batch",
        batch: (handedSoFar) => Effect.sync(() => distinctCount(delivered) >= handedSoFar)
      })
      const { ids, resent } = yield* relay(sender, "order.created", 5_000, alongside)
      yield* eventually("every message to be delivered", () => distinctCount(delivered) >= 5_000)
      const consumed = tally(delivered)
      expect(consumed.ids).toEqual(new Set(ids))
      expect(cuts.length).toBe(2)
      expect(proxy.accepted()).toBeGreaterThanOrEqual(3)
      // RabbitMQ has no dedupe: what was routed but not confirmed before a cut is delivered
      // twice. Duplicates stay within what the sender published again, and at least the
      // second cut's batch (routed, never confirmed) is among them.
      expect(republished.counter.messages).toBeGreaterThanOrEqual(250)
      expect(consumed.duplicates).toBeGreaterThanOrEqual(250)
      expect(consumed.duplicates).toBeLessThanOrEqual(republished.counter.messages + resent)
      console.log(
        `AMQP cut test: cuts during the batches ending at ${cuts.join(" and ")}; connections ${proxy.accepted()}; ` +
          `re-published by the sender after a lost session ${republished.counter.messages}; ` +
          `handed over again by the relay ${resent}; delivered ${consumed.total}, distinct ${consumed.distinct}, ` +
          `duplicates ${consumed.duplicates}`
      )
    }).pipe(Effect.provide(republished.layer))
  }, { timeout: 90_000 })

  it.scopedLive("a broker-forced close (320) reconnects without spending budget", () =>
    Effect.gen(function*() {
      const admin = yield* adminChannel
      const exchange = yield* testExchange(admin)
      const delivered = yield* consume(admin, exchange)
      const connectionName = `outbox-test-${Crypto.randomUUID().slice(0, 8)}`
      // A budget of 0: a drop would end the sender; only an announced close lets it continue.
      const sender = yield* buildSender({
        url: Redacted.make(amqpUrl),
        exchange,
        connectionName,
        reconnect: { budget: 0 }
      })
      expect(yield* sender.send([message("before", "order.created")])).toEqual([Sender.SendResult.Sent({ id: "before" })])
      yield* forceClose(connectionName)
      expect(yield* sender.send([message("after", "order.created")])).toEqual([Sender.SendResult.Sent({ id: "after" })])
      yield* eventually("both deliveries", () => delivered.length === 2)
      expect(delivered.map((delivery) => delivery.messageId)).toEqual(["before", "after"])
    }))

  it.scopedLive("wrong credentials: one clear error after exactly one connection attempt", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make(amqpAddress)
      const scope = yield* Scope.make()
      const exit = yield* buildSender({ url: urlVia(proxy, "wrong-password"), exchange: "amq.topic" }).pipe(
        Scope.extend(scope),
        Effect.exit
      )
      yield* Scope.close(scope, Exit.void)
      const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(failure).toMatchObject({ _tag: "ReconnectError", reason: "Auth" })
      expect(failure?.message).toMatch(
        new RegExp(`^RabbitMQ at ${proxy.host}:${proxy.port}/ refused the credentials or permissions \\(not retried\\): .*ACCESS_REFUSED`)
      )
      expect(failure?.message).not.toContain("wrong-password")
      expect(proxy.accepted()).toBe(1)
    }))

  it.scopedLive("an exchange that does not exist: one clear error, one attempt", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make(amqpAddress)
      const error = yield* Effect.flip(Effect.scoped(buildSender({ url: urlVia(proxy), exchange: "outbox-test-missing" })))
      expect(error.message).toBe(
        `RabbitMQ at ${proxy.host}:${proxy.port}/ refused the sender's configuration (not retried): ` +
          `exchange "outbox-test-missing" does not exist (declare it, or let the sender declare it)`
      )
      expect(proxy.accepted()).toBe(1)
    }))
})

describe("AmqpSender.optionsFromUrl", () => {
  it.effect("reads the exchange and passes the rest of the URL on, still redacted", () =>
    Effect.gen(function*() {
      const options = yield* AmqpSender.optionsFromUrl(
        Redacted.make("amqp://relay:s3cret@rabbit:5672/orders?exchange=outbox&declareExchange=topic&heartbeat=30")
      )
      expect(options.exchange).toBe("outbox")
      expect(options.declareExchange).toBe("topic")
      expect(Redacted.value(options.url)).toBe("amqp://relay:s3cret@rabbit:5672/orders?heartbeat=30")
      expect(String(options.url)).not.toContain("s3cret")
      expect((yield* AmqpSender.optionsFromUrl(Redacted.make("amqp://rabbit"))).exchange).toBe(AmqpSender.defaultExchange)
      expect(AmqpSender.describeBroker(options.url)).toBe("RabbitMQ at rabbit:5672/orders")
    }))

  it.effect("an unusable URL is a clear error that does not repeat it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(AmqpSender.optionsFromUrl(Redacted.make("nats://user:s3cret@host")))
      expect(error.message).toContain("the scheme must be amqp: or amqps:, not nats:")
      // Its own tag, so `catchTag` tells it apart from the other senders' URL errors.
      expect(error._tag).toBe("AmqpInvalidUrl")
      expect(error.message).not.toContain("s3cret")
    }))
})
