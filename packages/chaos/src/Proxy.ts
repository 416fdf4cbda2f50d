/**
 * A TCP proxy between the relays and Postgres that adds latency to every
 * chunk and cuts a random live connection now and then (both ends see a
 * reset), the way a flaky network or a load balancer would.
 */
import { createConnection, createServer, type Socket } from "node:net"
import type { Prng } from "./Prng.js"

/** A running proxy. */
export interface Proxy {
  readonly port: number
  /** Connections cut so far. */
  readonly cuts: () => number
  /** Cuts one random live connection; whether there was one. */
  readonly cutOne: () => boolean
  readonly close: () => Promise<void>
}

/** One proxied connection: the relay's socket and the one to Postgres. */
type Connection = readonly [client: Socket, upstream: Socket]

// Ends both sides at once: `reset` is what both ends see on a network failure.
const end = (connection: Connection, how: "destroy" | "reset") => {
  for (const socket of connection) {
    if (how === "reset") socket.resetAndDestroy()
    else socket.destroy()
  }
}

// Forwards from one socket to the other `latencyMs` later; timers of equal delay fire in order.
const forward = (from: Socket, to: Socket, latencyMs: number) => {
  from.on("data", (chunk: Buffer) => {
    if (latencyMs <= 0) to.write(chunk)
    else setTimeout(() => to.destroyed || to.write(chunk), latencyMs)
  })
}

/** Listens on a free port and forwards to `upstreamPort` on 127.0.0.1. */
export const start = (upstreamPort: number, options: { readonly latencyMs: number; readonly prng: Prng }): Promise<Proxy> =>
  new Promise((resolve, reject) => {
    const live = new Set<Connection>()
    let cuts = 0
    const server = createServer((client) => {
      const upstream = createConnection({ host: "127.0.0.1", port: upstreamPort })
      const connection: Connection = [client, upstream]
      live.add(connection)
      // Either side going (closed or failed) takes the other with it.
      const gone = () => {
        live.delete(connection)
        end(connection, "destroy")
      }
      client.on("error", gone).on("close", gone)
      upstream.on("error", gone).on("close", gone)
      forward(client, upstream, options.latencyMs)
      forward(upstream, client, options.latencyMs)
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve({
        port,
        cuts: () => cuts,
        cutOne: () => {
          const connection = options.prng.pick([...live])
          if (connection === undefined) return false
          cuts++
          live.delete(connection)
          end(connection, "reset")
          return true
        },
        close: () =>
          new Promise((done) => {
            for (const connection of live) end(connection, "destroy")
            server.close(() => done())
          })
      })
    })
  })
