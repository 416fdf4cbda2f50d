import { MemoryStore, Outbox, OutboxStore, Relay, Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { RunnerConfig, RunnerLayers } from "@effect-outbox/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"

const Paid = Topic.make("order.paid", Schema.Struct({ n: Schema.Number }))
const Audit = Topic.make("audit", Schema.Struct({ n: Schema.Number }))

// Every payload here is `{ n }` (published through the topics above).
const numberOf = (message: { readonly payload: unknown }) => (message.payload as { readonly n: number }).n

/**
 * Key `o-1` publishes 1, 2 on `order.paid`; `o-2` publishes 3; `audit` gets 4, 5
 * under `o-1`. The receiver rejects n = 1 (o-1's head). Two drains with the
 * relay options the settings give: what each sent, and what is parked after.
 */
const twoDrains = (flags: RunnerConfig.Flags) =>
  Effect.gen(function*() {
    const relay = yield* RunnerConfig.relay.pipe(Effect.withConfigProvider(RunnerConfig.providerFor(flags)))
    const options = RunnerLayers.relayOptions(relay, "webhook")
    yield* Outbox.publishAll([
      { topic: Paid, payload: { n: 1 }, options: { key: "o-1" } },
      { topic: Paid, payload: { n: 2 }, options: { key: "o-1" } },
      { topic: Paid, payload: { n: 3 }, options: { key: "o-2" } },
      { topic: Audit, payload: { n: 4 }, options: { key: "o-1" } },
      { topic: Audit, payload: { n: 5 }, options: { key: "o-1" } }
    ])
    const recorder = yield* RecordingSender.RecordingSender
    const drained: Array<ReadonlyArray<number>> = []
    for (let drain = 0; drain < 2; drain++) {
      const before = (yield* recorder.attempts).length
      yield* Relay.drainOnce(options)
      const attempts = (yield* recorder.attempts).slice(before)
      drained.push(attempts.map((attempt) => numberOf(attempt.message)).sort((a, b) => a - b))
    }
    const store = yield* OutboxStore.OutboxStore
    const parked = (yield* store.deadLetters.parkedKeys()).map((key) => key.key)
    return { drained, parked }
  }).pipe(
    Effect.provide(
      Layer.mergeAll(Outbox.layer, RecordingSender.layer((message) => numberOf(message) === 1 ? "rejected" : "sent")).pipe(
        Layer.provideMerge(MemoryStore.layer)
      )
    )
  )

describe("RunnerLayers.relayOptions", () => {
  it.effect("unordered by default: every message goes out in the first drain", () =>
    Effect.gen(function*() {
      const { drained, parked } = yield* twoDrains({})
      expect(drained).toEqual([[1, 2, 3, 4, 5], []])
      expect(parked).toEqual([])
    }))

  it.effect("--ordered true: one message per key per drain, and a dead-lettered head parks its key (block)", () =>
    Effect.gen(function*() {
      const { drained, parked } = yield* twoDrains({ ordered: "true" })
      // audit shares o-1's order when every topic is ordered: it waits behind n = 2, which waits behind the parked n = 1.
      expect(drained).toEqual([[1, 3], []])
      expect(parked).toEqual(["o-1"])
    }))

  it.effect("--ordered order.paid orders that topic only; --dead-lettered-key skip lets the key move on", () =>
    Effect.gen(function*() {
      const blocked = yield* twoDrains({ ordered: "order.paid" })
      expect(blocked).toEqual({ drained: [[1, 3, 4, 5], []], parked: ["o-1"] })
      const skipped = yield* twoDrains({ ordered: "order.paid", deadLetteredKey: "skip" })
      expect(skipped).toEqual({ drained: [[1, 3, 4, 5], [2]], parked: [] })
    }))

  it.effect("--max-lost-claims reaches the relay; unset, the relay's own default applies", () =>
    Effect.gen(function*() {
      const read = (flags: RunnerConfig.Flags) =>
        Effect.map(
          RunnerConfig.relay.pipe(Effect.withConfigProvider(RunnerConfig.providerFor(flags))),
          (relay) => RunnerLayers.relayOptions(relay, "amqp").maxLostClaims
        )
      expect(yield* read({ maxLostClaims: "3" })).toBe(3)
      expect(yield* read({})).toBe(Relay.defaults.maxLostClaims)
    }))
})
