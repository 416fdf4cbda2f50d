import { StreamEntry } from "@effect-outbox/redis"
import * as SenderFixtures from "@effect-outbox/test-support/SenderFixtures"
import { freePort, untilListening } from "@effect-outbox/test-support/TcpProxy"
import { Effect } from "effect"
import { Redis } from "ioredis"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * The test server: the shared local Redis unless OUTBOX_TEST_REDIS says otherwise.
 * Tests fail, never skip, when it is down. Other engineers share it: every test
 * works under a prefix of its own and deletes its keys; nothing flushes it.
 */
export const redisAddress = (() => {
  const [host = "127.0.0.1", port = "6379"] = (process.env.OUTBOX_TEST_REDIS ?? "127.0.0.1:6379").split(":")
  return { host, port: Number(port) }
})()

/** A client of the test's own (to set up and read back), closed with the scope. */
export const adminClient = (address: { readonly host: string; readonly port: number } = redisAddress, password?: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Redis({
        host: address.host,
        port: address.port,
        ...(password === undefined ? {} : { password }),
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 1
      })
      client.on("error", () => undefined)
      await client.connect().catch((error: unknown) => {
        throw new Error(`Cannot reach the test Redis at ${address.host}:${address.port} (OUTBOX_TEST_REDIS): ${String(error)}`)
      })
      return client
    }),
    (client) => Effect.sync(() => client.disconnect())
  )

/**
 * A fresh prefix for one test: streams under `<prefix>s:`, dedupe keys under
 * `<prefix>d:sent:`. Every key under it is deleted when the scope closes.
 */
export const testPrefix = (client: Redis) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const prefix = `outbox-test-${Crypto.randomUUID().slice(0, 8)}:`
      return { prefix, streamPrefix: `${prefix}s:`, dedupePrefix: `${prefix}d` }
    }),
    ({ prefix }) =>
      Effect.promise(async () => {
        let cursor = "0"
        do {
          const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000)
          if (keys.length > 0) await client.del(...keys)
          cursor = next
        } while (cursor !== "0")
      })
  )

/** An entry as stored: its stream id, the raw field list and its decoding. */
export interface Stored {
  readonly entryId: string
  readonly raw: ReadonlyArray<string>
  readonly entry: StreamEntry.StreamEntry
}

/** Every entry of `stream`, in stream order. */
export const readStream = (client: Redis, stream: string) =>
  Effect.gen(function*() {
    const entries = yield* Effect.promise(() => client.xrange(stream, "-", "+"))
    return yield* Effect.forEach(entries, ([entryId, raw]) =>
      Effect.map(Effect.orDie(StreamEntry.decode(raw)), (entry): Stored => ({ entryId, raw, entry })))
  })

/** Total entries and distinct message ids: duplicates are what dedupe did not catch. */
export const tally = (stored: ReadonlyArray<Stored>) => SenderFixtures.tally(stored.map((item) => item.entry.id))

const startServer = (port: number, dir: string, args: ReadonlyArray<string>) =>
  Effect.async<ChildProcess.ChildProcess>((resume) => {
    const server = ChildProcess.spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir, ...args],
      { stdio: "ignore" }
    )
    server.once("spawn", () => resume(Effect.succeed(server)))
    server.once("error", (error) => resume(Effect.dieMessage(`Cannot start redis-server: ${error.message}`)))
  })

const kill = (server: ChildProcess.ChildProcess) =>
  Effect.async<void>((resume) => {
    if (server.exitCode !== null || server.signalCode !== null) return resume(Effect.void)
    server.once("exit", () => resume(Effect.void))
    server.kill("SIGKILL")
  })

/**
 * A redis-server of the test's own on a free port, in a temporary directory,
 * stopped (and the directory removed) with the scope: for what the shared one
 * must not do (require a password, be killed and restarted).
 */
export const spawnServer = (args: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "outbox-redis-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    let server = yield* startServer(port, dir, args)
    yield* Effect.addFinalizer(() => Effect.suspend(() => kill(server)))
    yield* untilListening(port)
    return {
      host: "127.0.0.1",
      port,
      /** Kills the server (SIGKILL: no goodbye to clients) and starts it again on the same port and directory. */
      restart: Effect.gen(function*() {
        yield* kill(server)
        server = yield* startServer(port, dir, args)
        yield* untilListening(port)
      })
    }
  })
