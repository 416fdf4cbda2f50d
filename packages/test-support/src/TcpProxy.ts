import { Clock, Effect } from "effect"
import * as Net from "node:net"

/**
 * A TCP proxy in front of a broker or a database, so a test can count the
 * connections a client opens and cut them as a network failure would (both
 * sockets destroyed: the client sees its connection reset, the server sees it
 * go), hold the server's replies back (a half-open socket), or refuse new
 * connections (a server that is down).
 */
export interface TcpProxy {
  readonly host: string
  readonly port: number
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Connections open now. */
  readonly open: () => number
  /** Destroys every open connection. */
  readonly cut: Effect.Effect<void>
  /** The same, synchronously (from a client callback, at an exact moment). */
  readonly cutNow: () => void
  /** Sends new connections to another broker (open ones stay where they are). */
  readonly retarget: (target: { readonly host: string; readonly port: number }) => void
  /** Stops passing the broker's replies to the client (requests still flow): confirmations go missing. */
  readonly holdReplies: Effect.Effect<void>
  /** While refusing, a new connection is cut at once, as a server that is down would (`accepted` still counts it). */
  readonly refuse: (refusing: boolean) => void
}

/** A proxy to `target`, listening on a free local port until the scope closes. */
export const make = (target: { readonly host: string; readonly port: number }, options: { readonly refusing?: boolean } = {}) =>
  Effect.gen(function*() {
    const pairs = new Set<readonly [Net.Socket, Net.Socket]>()
    let accepted = 0
    let current = target
    let refusing = options.refusing ?? false
    const server = Net.createServer((client) => {
      accepted++
      if (refusing) {
        client.on("error", () => undefined)
        client.destroy()
        return
      }
      const upstream = Net.connect(current.port, current.host)
      const pair = [client, upstream] as const
      pairs.add(pair)
      const teardown = () => {
        pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      for (const socket of pair) {
        socket.on("error", teardown)
        socket.on("close", teardown)
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          for (const [client, upstream] of pairs) {
            client.destroy()
            upstream.destroy()
          }
          server.close(() => resume(Effect.void))
        })
    )
    const cutNow = () => {
      for (const [client, upstream] of pairs) {
        client.destroy()
        upstream.destroy()
      }
    }
    const proxy: TcpProxy = {
      host: "127.0.0.1",
      port,
      accepted: () => accepted,
      open: () => pairs.size,
      cut: Effect.sync(() => cutNow()),
      cutNow,
      retarget: (next) => {
        current = next
      },
      holdReplies: Effect.sync(() => {
        for (const [client, upstream] of pairs) {
          upstream.unpipe(client)
          upstream.pause()
        }
      }),
      refuse: (next) => {
        refusing = next
      }
    }
    return proxy
  })

/** A port nothing listens on right now. */
export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Waits until something accepts TCP connections on `port`. */
export const untilListening = (port: number, timeoutMillis = 10_000) =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + timeoutMillis
    while (true) {
      const up = yield* Effect.async<boolean>((resume) => {
        const socket = Net.connect(port, "127.0.0.1")
        socket.once("connect", () => {
          socket.destroy()
          resume(Effect.succeed(true))
        })
        socket.once("error", () => resume(Effect.succeed(false)))
      })
      if (up) return
      if ((yield* Clock.currentTimeMillis) > deadline) return yield* Effect.dieMessage(`Nothing listens on port ${port} after ${timeoutMillis} ms`)
      yield* Effect.sleep("20 millis")
    }
  })
