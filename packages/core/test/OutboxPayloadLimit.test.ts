import { MemoryStore, Outbox, OutboxStore, Topic } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Schema } from "effect"

const Note = Topic.make("note.added", Schema.Struct({ text: Schema.String }))

// {"text":""} is 11 bytes of JSON; each "é" adds two more in UTF-8.
const env = Layer.provideMerge(Outbox.layerWith({ maxPayloadBytes: 20 }), MemoryStore.layer)

const stored = Effect.flatMap(OutboxStore.OutboxStore, (store) =>
  Effect.map(store.claim({ batchSize: 100, leaseFor: Duration.seconds(30) }), (claim) => claim.messages))

describe("Outbox payload size limit", () => {
  it.effect("a payload at the limit is written; one byte over is refused, naming topic, size and limit", () =>
    Effect.gen(function*() {
      yield* Outbox.publish(Note, { text: "123456789" })
      const error = yield* Outbox.publish(Note, { text: "é".repeat(5) }).pipe(Effect.flip)
      expect(error._tag).toBe("InvalidMessage")
      expect(error.message).toBe(
        "Cannot publish to topic \"note.added\": payload is 21 bytes of JSON, over the limit of 20 bytes (maxPayloadBytes); store the body elsewhere and publish a reference to it"
      )
      expect((yield* stored).map((message) => message.payload)).toEqual([{ text: "123456789" }])
    }).pipe(Effect.provide(env)))

  it.effect("publishAll with one entry over the limit writes nothing of the batch", () =>
    Effect.gen(function*() {
      const error = yield* Outbox.publishAll([
        { topic: Note, payload: { text: "short" } },
        { topic: Note, payload: { text: "x".repeat(100) } }
      ]).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "InvalidMessage", topic: "note.added", field: "payload" })
      expect(yield* stored).toEqual([])
    }).pipe(Effect.provide(env)))

  it.effect("without the option, any size is written", () =>
    Effect.gen(function*() {
      yield* Outbox.publish(Note, { text: "x".repeat(100_000) })
      expect(yield* stored).toHaveLength(1)
    }).pipe(Effect.provide(Layer.provideMerge(Outbox.layer, MemoryStore.layer))))
})
