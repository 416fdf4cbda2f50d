import { MemoryStore, type Message, OutboxStore, Relay, Sender } from "@effect-outbox/core"
import * as ConfirmedSend from "@effect-outbox/core/ConfirmedSend"
import { Drain } from "@effect-outbox/core/testing"
import { expect } from "@effect/vitest"
import { Context, Effect, HashMap, Layer, Logger, Option } from "effect"
import { eventually } from "./Eventually.js"
import type { TcpProxy } from "./TcpProxy.js"

/**
 * Relays `count` messages, round-robin over `topics` (one or several), through `Relay` + `MemoryStore` into the
 * sender. `alongside(handedSoFar)` runs concurrently with each send, once the
 * sender has started on the batch (to cut connections while publishes are in flight).
 * Returns the published ids and how many hand-overs were repeats (relay retries).
 */
export const relay = (
  senderLayer: Layer.Layer<Sender.Sender, unknown>,
  topics: string | ReadonlyArray<string>,
  count: number,
  alongside: (handedSoFar: number) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function*() {
    const topicOf = (i: number) => (typeof topics === "string" ? topics : topics[i % topics.length] ?? "")
    const handed = new Map<string, number>()
    let handedSoFar = 0
    const counting = Layer.effect(
      Sender.Sender,
      Effect.map(Sender.Sender, (inner) => ({
        send: (batch: ReadonlyArray<Message.OutboxMessage>) => {
          for (const { id } of batch) handed.set(id, (handed.get(id) ?? 0) + 1)
          handedSoFar += batch.length
          return Effect.zipLeft(inner.send(batch), Effect.zipRight(Effect.yieldNow(), alongside(handedSoFar)), {
            concurrent: true
          })
        }
      }))
    ).pipe(Layer.provide(senderLayer))
    const context = yield* Layer.build(Layer.merge(MemoryStore.layer, counting))
    const store = Context.get(context, OutboxStore.OutboxStore)
    const ids = yield* store.append(
      Array.from({ length: count }, (_, i) => ({ topic: topicOf(i), key: null, payload: { n: i, pad: "x".repeat(100) }, headers: {} }))
    )
    yield* Relay.run({ batchSize: 250, pollInterval: "50 millis", sendTimeout: "15 seconds" }).pipe(
      Effect.provide(context),
      Effect.forkScoped
    )
    const stats = yield* Drain.untilDrained({ clock: "live", step: "20 millis", timeout: "60 seconds" }).pipe(
      Effect.provide(context)
    )
    expect(stats).toMatchObject({ pending: 0, inFlight: 0, dead: 0 })
    const resent = Array.from(handed.values()).reduce((sum, times) => sum + times - 1, 0)
    return { ids, resent }
  })

/** Adds up the messages the sender published again after a lost session (from its log). */
export const republishedCounter = () => {
  const counter = { messages: 0 }
  const logger = Logger.make(({ annotations, message }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    if (text !== ConfirmedSend.republishing) return
    const count = Option.getOrUndefined(HashMap.get(annotations, "messages"))
    counter.messages += typeof count === "number" ? count : 0
  })
  return { counter, layer: Logger.add(logger) }
}

/**
 * The connection cuts the broker tests make while `relay` runs (pass `alongside`
 * to it): past `at[0]` messages handed over, a cut at once (the batch's publishes
 * still in the client's buffer); past `at[1]`, the broker's replies held back until
 * it `has` the whole batch (stored, unconfirmed), then a cut. `cuts` records the
 * handed-over counts at which they happened.
 */
export const cutTwice = (
  proxy: TcpProxy,
  at: readonly [number, number],
  has: { readonly what: string; readonly batch: (handedSoFar: number) => Effect.Effect<boolean> }
) => {
  const cuts: Array<number> = []
  const alongside = (handedSoFar: number): Effect.Effect<void> => {
    const next = at[cuts.length]
    if (next === undefined || handedSoFar < next) return Effect.void
    cuts.push(handedSoFar)
    if (cuts.length === 1) return proxy.cut
    return proxy.holdReplies.pipe(
      Effect.zipRight(eventually(has.what, has.batch(handedSoFar))),
      Effect.zipRight(proxy.cut)
    )
  }
  return { cuts, alongside }
}
