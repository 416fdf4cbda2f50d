import { MessageHeaders } from "@effect-outbox/core"
import { WebhookSignature } from "@effect-outbox/webhook"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** How the demo receiver misbehaves: shares of messages, decided by a hash of the id (so reruns agree). */
export interface Faults {
  /** Answered 503 on their first attempt (and some on their second): retried. */
  readonly failureRate: number
  /** Answered 400 on every attempt: dead-lettered as Rejected. */
  readonly rejectRate: number
  /** Answered after 200 ms. */
  readonly slowRate: number
}

/** What the receiver saw. */
export interface Deliveries {
  /** 2xx answers per message id. */
  readonly received: Map<string, number>
  readonly rejected: Set<string>
  readonly failedAnswers: number
  readonly badSignatures: number
}

// A stable number in [0, 1) per message and purpose.
const share = (id: string, purpose: string) =>
  createHash("sha256").update(`${purpose}:${id}`).digest().readUInt32BE(0) / 2 ** 32

/** A local webhook receiver that verifies Standard Webhooks signatures and fails some requests, for the demo. */
export const make = (secret: Redacted.Redacted<string>, faults: Faults) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly deliveries: () => Deliveries; readonly close: () => void }>((resume) => {
      const received = new Map<string, number>()
      const rejected = new Set<string>()
      let failedAnswers = 0
      let badSignatures = 0
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          const verified = Effect.runSync(Effect.either(WebhookSignature.verify(secret, request.headers as WebhookSignature.HeadersInput, body)))
          if (verified._tag === "Left") {
            badSignatures++
            response.writeHead(401).end()
            return
          }
          const id = verified.right.id
          const attempt = Number(request.headers[MessageHeaders.outbox.attempt] ?? "1")
          const answer = () => {
            if (share(id, "reject") < faults.rejectRate) {
              rejected.add(id)
              response.writeHead(400, { "content-type": "application/json" }).end(`{"error":"order ${id} is not valid here"}`)
            } else if ((attempt === 1 && share(id, "fail") < faults.failureRate) || (attempt === 2 && share(id, "fail") < faults.failureRate / 3)) {
              failedAnswers++
              response.writeHead(503).end()
            } else {
              received.set(id, (received.get(id) ?? 0) + 1)
              response.writeHead(204).end()
            }
          }
          // A plain Node server standing in for someone else's service: it runs on real time.
          if (share(id, "slow") < faults.slowRate) setTimeout(answer, 200)
          else answer()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          url: `http://127.0.0.1:${port}/webhooks/orders`,
          deliveries: () => ({ received, rejected, failedAnswers, badSignatures }),
          close: () => {
            server.closeAllConnections()
            server.close()
          }
        }))
      })
    }),
    (receiver) => Effect.sync(receiver.close)
  )
