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
    const live = new Set<readonly [Socket, Socket]>()
    let cuts = 0
    const server = createServer((client) => {
      const upstream = createConnection({ host: "127.0.0.1", port: upstreamPort })
      const pair = [client, upstream] as const
      live.add(pair)
      const close = () => {
        live.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", close).on("close", close)
      upstream.on("error", close).on("close", close)
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
          const pair = options.prng.pick([...live])
          if (pair === undefined) return false
          cuts++
          live.delete(pair)
          pair[0].resetAndDestroy()
          pair[1].resetAndDestroy()
          return true
        },
        close: () =>
          new Promise((done) => {
            for (const [client, upstream] of live) {
              client.destroy()
              upstream.destroy()
            }
            server.close(() => done())
          })
      })
    })
  })
