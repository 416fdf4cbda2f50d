import { Leadership } from "@effect-outbox/core"
import { AdvisoryLock } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import * as Net from "node:net"
import { databaseUrl, eventually } from "./postgres.js"

/** A TCP proxy to the test database whose replies can be frozen, as a half-open socket would. */
const freezableProxy = Effect.acquireRelease(
  Effect.async<{ port: number; freeze: () => void; server: Net.Server; sockets: Set<Net.Socket> }>((resume) => {
    const target = new URL(databaseUrl)
    const sockets = new Set<Net.Socket>()
    const replies = new Set<Net.Socket>()
    const server = Net.createServer((client) => {
      const upstream = Net.connect(Number(target.port || 5432), target.hostname)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on("error", () => undefined)
        socket.on("close", () => {
          client.destroy()
          upstream.destroy()
        })
      }
      replies.add(upstream)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resume(Effect.succeed({
        port: typeof address === "object" && address !== null ? address.port : 0,
        // Requests still flow; answers never come back.
        freeze: () => replies.forEach((upstream) => upstream.unpipe()),
        server,
        sockets
      }))
    })
  }),
  (proxy) =>
    Effect.sync(() => {
      proxy.sockets.forEach((socket) => socket.destroy())
      proxy.server.close()
    })
)

describe("AdvisoryLock", () => {
  it.live("a leader whose lock connection stops answering is not leader within the ping timeout, instead of hanging", () =>
    Effect.gen(function*() {
      const proxy = yield* freezableProxy
      const url = new URL(databaseUrl)
      url.host = `127.0.0.1:${proxy.port}`
      const context = yield* Layer.build(
        AdvisoryLock.layer({ name: `half-open:${process.pid}`, checkInterval: "100 millis", pingTimeout: "300 millis" }).pipe(
          Layer.provide(PgClient.layer({ url: Redacted.make(url.href), maxConnections: 2 }))
        )
      )
      const leadership = Context.get(context, Leadership.Leadership)
      // Runs first on close: cut the frozen sockets, or closing the pool would wait on them forever.
      yield* Effect.addFinalizer(() => Effect.sync(() => proxy.sockets.forEach((socket) => socket.destroy())))
      yield* eventually("leadership", leadership.isLeader)
      proxy.freeze()
      // Bounded well above the ping timeout: a hang fails the test here.
      const leader = yield* leadership.isLeader.pipe(Effect.timeout("3 seconds"))
      expect(leader).toBe(false)
    }).pipe(Effect.scoped))
})
