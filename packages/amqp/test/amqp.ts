import * as SenderFixtures from "@effect-outbox/test-support/SenderFixtures"
import { type Channel, connect } from "amqplib"
import { Effect, Redacted } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"

/** The test broker: the local RabbitMQ unless OUTBOX_TEST_AMQP_URL says otherwise. Tests fail, never skip, when it is down. */
export const amqpUrl = process.env.OUTBOX_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"

export const amqpAddress = (() => {
  const url = new URL(amqpUrl)
  return { host: url.hostname, port: Number(url.port === "" ? "5672" : url.port) }
})()

/** The broker URL through another address (a proxy), with the same credentials unless given. */
export const urlVia = (address: { readonly host: string; readonly port: number }, password?: string) => {
  const url = new URL(amqpUrl)
  url.hostname = address.host
  url.port = String(address.port)
  if (password !== undefined) url.password = password
  return Redacted.make(url.toString())
}

/** A channel on a connection of the test's own (to set up and consume), closed with the scope. */
export const adminChannel = Effect.gen(function*() {
  const model = yield* Effect.acquireRelease(
    Effect.promise(() => connect(amqpUrl)),
    (model) => Effect.promise(() => model.close().catch(() => undefined))
  )
  return yield* Effect.promise(() => model.createChannel())
})

/** A fresh topic exchange with a random name, deleted when the scope closes. */
export const testExchange = (channel: Channel) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const name = `outbox-test-${Crypto.randomUUID().slice(0, 8)}`
      await channel.assertExchange(name, "topic", { durable: false })
      return name
    }),
    (name) => Effect.promise(() => channel.deleteExchange(name).catch(() => undefined))
  )

/** A delivered message, as a consumer sees it. */
export interface Delivered {
  readonly messageId: string
  readonly routingKey: string
  readonly persistent: boolean
  readonly contentType: string | undefined
  readonly headers: Readonly<Record<string, unknown>>
  readonly payload: unknown
}

/**
 * A consumer on a fresh exclusive queue bound to `exchange` with `pattern`,
 * collecting every delivery (auto-ack). The queue goes with the connection.
 */
export const consume = (channel: Channel, exchange: string, pattern = "#") =>
  Effect.promise(async () => {
    const delivered: Array<Delivered> = []
    const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true })
    await channel.bindQueue(queue, exchange, pattern)
    await channel.consume(queue, (message) => {
      if (message === null) return
      delivered.push({
        messageId: String(message.properties.messageId),
        routingKey: message.fields.routingKey,
        persistent: message.properties.deliveryMode === 2,
        contentType: message.properties.contentType,
        headers: message.properties.headers ?? {},
        payload: JSON.parse(message.content.toString())
      })
    }, { noAck: true })
    return delivered
  })

/** Total delivered and distinct message ids: RabbitMQ has no dedupe, so duplicates reach consumers. */
export const tally = (delivered: ReadonlyArray<Delivered>) => SenderFixtures.tally(delivered.map((message) => message.messageId))

const rabbitmqctl = (args: ReadonlyArray<string>) =>
  Effect.async<string>((resume) => {
    ChildProcess.execFile("rabbitmqctl", [...args], (error, stdout) => {
      if (error !== null) resume(Effect.dieMessage(`rabbitmqctl ${args[0]} failed: ${error.message}`))
      else resume(Effect.succeed(stdout))
    })
  })

/**
 * Has the broker close the connection named `connectionName`, as an operator
 * or a node shutdown does (320 CONNECTION_FORCED): announced, not a drop.
 */
export const forceClose = (connectionName: string) =>
  Effect.gen(function*() {
    const listing = yield* rabbitmqctl(["-q", "list_connections", "pid", "client_properties"])
    const line = listing.split("\n").find((row) => row.includes(`{"connection_name","${connectionName}"}`))
    const pid = line?.split("\t")[0]
    if (pid === undefined) return yield* Effect.dieMessage(`No connection named ${connectionName}`)
    yield* rabbitmqctl(["close_connection", pid, "closed by the test"])
  })
