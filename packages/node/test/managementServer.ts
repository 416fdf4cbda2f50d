import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { MemoryStore, Outbox, OutboxStore, Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import * as ManagementServer from "@effect-outbox/node/ManagementServer"
import * as PrometheusMetrics from "@effect-outbox/node/PrometheusMetrics"
import * as RelayProgress from "@effect-outbox/node/RelayProgress"
import { expect } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted, Schema } from "effect"

// A management server on an ephemeral port over a memory store, and how its tests call it.

export const token = "s3cr3t-admin-token-value"

export const Item = Schema.Struct({ n: Schema.Number })
export const publish = (topic: string, count: number) =>
  Outbox.publishAll(Array.from({ length: count }, (_, n) => ({ topic: Topic.make(topic, Item), payload: { n } })))

export const serverEnv = (
  options: Partial<ManagementServer.ListenOptions> = {},
  behaviour: RecordingSender.Behaviour = RecordingSender.alwaysSend
) =>
  ManagementServer.layer({
    port: 0,
    host: "127.0.0.1",
    adminToken: Redacted.make(token),
    readiness: { stallThreshold: "1 minute" },
    ...options
  }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Outbox.layer,
        RecordingSender.layer(behaviour),
        RelayProgress.layer,
        PrometheusMetrics.layer(),
        NodeHttpClient.layerUndici
      )
    ),
    Layer.provideMerge(MemoryStore.layer)
  )

/** Calls the running server; `bearer` adds `Authorization: Bearer <bearer>`. */
export const call = (method: "GET" | "POST", path: string, bearer?: string) =>
  Effect.gen(function*() {
    const server = yield* ManagementServer.ManagementServer
    const request = HttpClientRequest.make(method)(`${server.url}${path}`)
    const response = yield* HttpClient.execute(
      bearer === undefined ? request : HttpClientRequest.bearerToken(request, bearer)
    )
    const text = yield* response.text
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) }
  })

export const admin = (method: "GET" | "POST", path: string) => call(method, path, token)

/**
 * Parks key `o-1` the way an ordered relay under `block` does: its head is
 * dead-lettered with `parkKey`, so its second message waits. Key `o-2`'s head
 * is dead-lettered without parking. Returns the parking letter's id.
 */
export const parkKey = Effect.gen(function*() {
  const store = yield* OutboxStore.OutboxStore
  const [o1Head] = yield* store.append(
    [["o-1", 1], ["o-1", 2], ["o-2", 3]].map(([key, n]) => ({ topic: "order.paid", key: String(key), payload: { n }, headers: {} }))
  )
  const claim = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30), ordered: "all" })
  expect(claim.messages.map((message) => message.key)).toEqual(["o-1", "o-2"])
  yield* store.complete(
    claim.token,
    claim.messages.map((message) =>
      OutboxStore.Completion.DeadLetter({
        id: message.id,
        reason: "Rejected",
        error: `422 for ${message.key}`,
        parkKey: message.id === o1Head
      })
    )
  )
  return o1Head ?? ""
})
