/**
 * The local webhook receiver the relays deliver to. It verifies every
 * Standard Webhooks signature, misbehaves on purpose (5xx, hangs past the
 * send timeout, 429 with Retry-After, 400 for poison messages) and records
 * every delivery it processed, with the relay process that made it: each
 * relay process posts to its own path, `/r/<process name>`.
 */
import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { Prng } from "./Prng.js"

/** One processed delivery (a request the receiver acted on). */
export interface Delivery {
  readonly id: string
  readonly key: string
  readonly seq: number
  /** The relay process that sent it. */
  readonly process: string
  /** Order of arrival at the receiver. */
  readonly arrival: number
  /** When it arrived, ms since the run started. */
  readonly at: number
  /** Processed, then answered only after the sender's timeout: the sender saw a failure. */
  readonly late: boolean
}

/** What the receiver counted besides deliveries. */
export interface Counts {
  readonly requests: number
  readonly failed: number
  readonly hung: number
  readonly throttled: number
  readonly rejected: number
  readonly badSignatures: number
  /** Why requests failed verification, by reason and relay slot (`relay0` is the skewed one). */
  readonly badSignatureReasons: Record<string, number>
}

/** A running receiver. */
export interface Receiver {
  readonly port: number
  readonly deliveries: ReadonlyArray<Delivery>
  readonly counts: () => Counts
  /** Requests still being answered (hangs). */
  readonly pending: () => number
  readonly close: () => Promise<void>
}

/** The receiver's behaviour. */
export interface Behaviour {
  readonly secret: Redacted.Redacted<string>
  readonly failRate: number
  readonly hangRate: number
  readonly throttleRate: number
  /** How long a hang lasts (past the sender's timeout). */
  readonly hangMs: number
  readonly prng: Prng
  /** The run's clock, ms since it started. */
  readonly now: () => number
}

interface Payload {
  readonly key: string
  readonly seq: number
  readonly poison: boolean
}

const payloadOf = (body: string): Payload | undefined => {
  const envelope: unknown = JSON.parse(body)
  if (typeof envelope !== "object" || envelope === null || !("data" in envelope)) return undefined
  const data: unknown = envelope.data
  if (typeof data !== "object" || data === null) return undefined
  if (!("key" in data) || !("seq" in data) || !("poison" in data)) return undefined
  const { key, seq, poison } = data
  return typeof key === "string" && typeof seq === "number" && typeof poison === "boolean" ? { key, seq, poison } : undefined
}

/** Starts a receiver on a free port. */
export const start = (behaviour: Behaviour): Promise<Receiver> =>
  new Promise((resolve, reject) => {
    const deliveries: Array<Delivery> = []
    const counts = { requests: 0, failed: 0, hung: 0, throttled: 0, rejected: 0, badSignatures: 0 }
    const badSignatureReasons: Record<string, number> = {}
    let pending = 0
    const handle = (request: IncomingMessage, response: ServerResponse, body: string) => {
      counts.requests++
      const verified = Effect.runSync(Effect.either(WebhookSignature.verify(behaviour.secret, request.headers, body)))
      const payload = verified._tag === "Right" ? payloadOf(body) : undefined
      if (verified._tag === "Left" || payload === undefined) {
        counts.badSignatures++
        const why = `${verified._tag === "Left" ? verified.left._tag === "WebhookVerificationError" ? verified.left.reason : verified.left._tag : "BadBody"} from ${
          (request.url ?? "").replace(/^\/r\/(relay\d+).*$/, "$1")
        }`
        badSignatureReasons[why] = (badSignatureReasons[why] ?? 0) + 1
        response.writeHead(401).end()
        return
      }
      const process = (request.url ?? "").replace(/^\/r\//, "")
      if (payload.poison) {
        counts.rejected++
        response.writeHead(400, { "content-type": "application/json" }).end(`{"error":"poison message ${payload.key}#${payload.seq}"}`)
        return
      }
      const roll = behaviour.prng.next()
      if (roll < behaviour.failRate) {
        counts.failed++
        response.writeHead(503).end()
      } else if (roll < behaviour.failRate + behaviour.throttleRate) {
        counts.throttled++
        response.writeHead(429, { "retry-after": "1" }).end()
      } else if (roll < behaviour.failRate + behaviour.throttleRate + behaviour.hangRate) {
        // Processed now, answered after the sender gave up: the classic source of duplicates.
        counts.hung++
        deliveries.push({ id: verified.right.id, ...payload, process, arrival: deliveries.length, at: behaviour.now(), late: true })
        pending++
        setTimeout(() => {
          pending--
          if (!response.destroyed) response.writeHead(204).end()
        }, behaviour.hangMs)
      } else {
        deliveries.push({ id: verified.right.id, ...payload, process, arrival: deliveries.length, at: behaviour.now(), late: false })
        response.writeHead(204).end()
      }
    }
    const server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => handle(request, response, Buffer.concat(chunks).toString("utf8")))
    })
    server.keepAliveTimeout = 30_000
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve({
        port: typeof address === "object" && address !== null ? address.port : 0,
        deliveries,
        counts: () => ({ ...counts, badSignatureReasons: { ...badSignatureReasons } }),
        pending: () => pending,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** A fresh Standard Webhooks secret for a run. */
export const secret = (prng: Prng): Redacted.Redacted<string> => {
  const bytes = Buffer.alloc(24)
  for (let i = 0; i < bytes.length; i++) bytes[i] = prng.between(0, 255)
  return Redacted.make(`whsec_${bytes.toString("base64")}`)
}
