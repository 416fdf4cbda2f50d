import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as SenderFixtures from "@effect-outbox/test-support/SenderFixtures"
import { freePort, untilListening } from "@effect-outbox/test-support/TcpProxy"

/** The test server: the local NATS (JetStream on) unless OUTBOX_TEST_NATS says otherwise. Tests fail, never skip, when it is down. */
export const natsAddress = (() => {
  const [host = "127.0.0.1", port = "4222"] = (process.env.OUTBOX_TEST_NATS ?? "127.0.0.1:4222").split(":")
  return { host, port: Number(port) }
})()

/** A connection of the test's own (to create streams and read them back), closed with the scope. */
export const adminConnection = Effect.acquireRelease(
  Effect.promise(() => connect({ servers: `${natsAddress.host}:${natsAddress.port}` })),
  (connection) => Effect.promise(() => connection.close())
)

/** A fresh stream on `prefix.>` with a random name, deleted when the scope closes. */
export const testStream = (connection: NatsConnection) =>
  Effect.gen(function*() {
    const suffix = Crypto.randomUUID().slice(0, 8)
    const name = `OUTBOX_TEST_${suffix}`
    const prefix = `outbox-test-${suffix}.`
    yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const manager = await jetstreamManager(connection)
        await manager.streams.add({ name, subjects: [`${prefix}>`] })
      }),
      () =>
        Effect.promise(async () => {
          const manager = await jetstreamManager(connection)
          await manager.streams.delete(name)
        })
    )
    return { name, prefix }
  })

/** A stored message, as a consumer sees it. */
export interface Stored {
  readonly subject: string
  readonly msgId: string
  readonly headers: Readonly<Record<string, string>>
  readonly payload: unknown
}

/** Every message in the stream, read with an ordered consumer. */
export const readStream = (connection: NatsConnection, stream: string) =>
  Effect.promise(async () => {
    const manager = await jetstreamManager(connection)
    const total = (await manager.streams.info(stream)).state.messages
    const stored: Array<Stored> = []
    if (total === 0) return stored
    const consumer = await jetstream(connection).consumers.get(stream)
    const messages = await consumer.consume()
    for await (const message of messages) {
      const headers: Record<string, string> = {}
      for (const [name, values] of message.headers ?? []) headers[name] = values.join(",")
      stored.push({
        subject: message.subject,
        msgId: headers["Nats-Msg-Id"] ?? "",
        headers,
        payload: message.json()
      })
      if (message.info.pending === 0) break
    }
    await messages.close()
    return stored
  })

/** Total stored and distinct message ids: duplicates are what the broker's dedupe did not catch. */
export const tally = (stored: ReadonlyArray<Stored>) => SenderFixtures.tally(stored.map((message) => message.msgId))

/**
 * A NATS server of the test's own on a free port, stopped with the scope:
 * for what the shared one cannot do (require a password, enter lame duck mode).
 */
export const spawnServer = (args: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const server = yield* Effect.acquireRelease(
      Effect.async<ChildProcess.ChildProcess>((resume) => {
        const server = ChildProcess.spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), ...args], {
          stdio: "ignore"
        })
        server.once("spawn", () => resume(Effect.succeed(server)))
        server.once("error", (error) => resume(Effect.dieMessage(`Cannot start nats-server: ${error.message}`)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          if (server.exitCode !== null || server.signalCode !== null) return resume(Effect.void)
          server.once("exit", () => resume(Effect.void))
          server.kill("SIGKILL")
        })
    )
    yield* untilListening(port)
    return {
      host: "127.0.0.1",
      port,
      /** Lame duck mode: the server announces it is going away, then closes its clients. */
      enterLameDuckMode: Effect.sync(() => server.kill("SIGUSR2"))
    }
  })

/** A server that requires this user and password (the shared one has no authentication). */
export const serverWithAuth = (user: string, password: string) => spawnServer(["--user", user, "--pass", password])

/**
 * Counts every publish on the stream's subjects as core NATS sees it,
 * copies included (JetStream drops a copy with a known Nats-Msg-Id; a plain
 * subscriber still sees it). Unsubscribed when the scope closes.
 */
export const watchPublishes = (connection: NatsConnection, prefix: string) =>
  Effect.gen(function*() {
    const seen = {
      publishes: 0,
      /** Runs `action` right as the `count`-th publish is seen (at most one pending). */
      at: (count: number, action: () => void) => {
        trigger = { count, action }
      }
    }
    let trigger: { readonly count: number; readonly action: () => void } | undefined
    yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const subscription = connection.subscribe(`${prefix}>`, {
          callback: () => {
            seen.publishes++
            if (trigger !== undefined && seen.publishes >= trigger.count) {
              const { action } = trigger
              trigger = undefined
              action()
            }
          }
        })
        await connection.flush()
        return subscription
      }),
      (subscription) => Effect.sync(() => subscription.unsubscribe())
    )
    return seen
  })
