/**
 * A sender for tests: it records every message it is handed and answers as a
 * script says (send, fail, reject, hang, fail the whole batch).
 *
 * @example
 * import { Effect, Layer } from "effect"
 * import { MemoryStore, Relay } from "@effect-outbox/core"
 * import { RecordingSender } from "@effect-outbox/core/testing"
 *
 * const TestLayer = Layer.mergeAll(MemoryStore.layer, RecordingSender.layer(RecordingSender.failFirst(2)))
 * const program = Effect.gen(function*() {
 *   // ... run the relay (Relay.drainOnce or Relay.layer), then:
 *   const sent = yield* RecordingSender.sentIds
 *   return sent
 * }).pipe(Effect.provide(TestLayer))
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type { OutboxMessage } from "../Message.js"
import { SendError, Sender, SendResult } from "../Sender.js"

/**
 * What the script says to do with one message. `failBatch` fails the whole batch it is in.
 *
 * @category testing
 * @since 0.1.0
 */
export type Outcome = "sent" | "failed" | "rejected" | "hang" | "failBatch"

/**
 * The script: given a message and how many times this sender has now been handed it (1 on the first).
 *
 * @category testing
 * @since 0.1.0
 */
export type Behaviour = (message: OutboxMessage, handedCount: number) => Outcome

/**
 * One message handed to the sender, with what the script answered and when (Clock millis).
 *
 * @category testing
 * @since 0.1.0
 */
export interface Attempt {
  readonly message: OutboxMessage
  readonly outcome: Outcome
  readonly at: number
}

/**
 * Every message is delivered.
 *
 * @category testing
 * @since 0.1.0
 */
export const alwaysSend: Behaviour = () => "sent"

/**
 * The first `n` hand-overs of each matching message fail (transiently); later ones succeed.
 *
 * @category testing
 * @since 0.1.0
 */
export const failFirst = (n: number, matching: (message: OutboxMessage) => boolean = () => true): Behaviour =>
(message, handedCount) => matching(message) && handedCount <= n ? "failed" : "sent"

/**
 * Messages on `topic` are rejected (permanently).
 *
 * @category testing
 * @since 0.1.0
 */
export const rejectTopic = (topic: string): Behaviour => (message) => message.topic === topic ? "rejected" : "sent"

/**
 * Sending a batch with a matching message never completes (to exercise the send timeout).
 *
 * @category testing
 * @since 0.1.0
 */
export const hang = (matching: (message: OutboxMessage) => boolean = () => true): Behaviour => (message) =>
  matching(message) ? "hang" : "sent"

/**
 * Runs behaviours in order; the first that does not say `sent` decides.
 *
 * @category testing
 * @since 0.1.0
 */
export const combine = (...behaviours: ReadonlyArray<Behaviour>): Behaviour => (message, handedCount) => {
  for (const behaviour of behaviours) {
    const outcome = behaviour(message, handedCount)
    if (outcome !== "sent") return outcome
  }
  return "sent"
}

/**
 * The recording sender's test-facing side.
 *
 * @category testing
 * @since 0.1.0
 */
export class RecordingSender extends Context.Tag("@effect-outbox/core/testing/RecordingSender")<RecordingSender, {
  readonly attempts: Effect.Effect<ReadonlyArray<Attempt>>
  readonly setBehaviour: (behaviour: Behaviour) => Effect.Effect<void>
  readonly sender: Context.Tag.Service<Sender>
}>() {}

/**
 * Makes a recording sender following `behaviour` (default: deliver everything).
 *
 * @category testing
 * @since 0.1.0
 */
export const make = (behaviour: Behaviour = alwaysSend): Effect.Effect<Context.Tag.Service<RecordingSender>> =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make<ReadonlyArray<Attempt>>([])
    const script = yield* Ref.make(behaviour)
    const handed = new Map<string, number>()
    const send = (batch: ReadonlyArray<OutboxMessage>) =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        const decide = yield* Ref.get(script)
        const outcomes = batch.map((message) => {
          const count = (handed.get(message.id) ?? 0) + 1
          handed.set(message.id, count)
          return { message, outcome: decide(message, count), count }
        })
        yield* Ref.update(attempts, (all) => [...all, ...outcomes.map(({ message, outcome }) => ({ message, outcome, at }))])
        if (outcomes.some(({ outcome }) => outcome === "hang")) return yield* Effect.never
        if (outcomes.some(({ outcome }) => outcome === "failBatch")) {
          return yield* new SendError({ reason: "scripted batch failure" })
        }
        return outcomes.map(({ count, message, outcome }) =>
          outcome === "sent"
            ? SendResult.Sent({ id: message.id })
            : outcome === "rejected"
            ? SendResult.Rejected({ id: message.id, error: `scripted rejection of ${message.topic}` })
            : SendResult.Failed({ id: message.id, error: `scripted failure (hand-over ${count})` })
        )
      })
    return {
      attempts: Ref.get(attempts),
      setBehaviour: (next) => Ref.set(script, next),
      sender: Sender.of({ send })
    }
  })

/**
 * Provides both `RecordingSender` (to inspect and re-script it) and `Sender` (for the relay).
 *
 * @category testing
 * @since 0.1.0
 */
export const layer = (behaviour: Behaviour = alwaysSend): Layer.Layer<RecordingSender | Sender> =>
  Layer.effectContext(
    Effect.map(make(behaviour), (recorder) =>
      Context.make(RecordingSender, recorder).pipe(Context.add(Sender, recorder.sender)))
  )

/**
 * Every hand-over so far, in order.
 *
 * @category testing
 * @since 0.1.0
 */
export const attempts: Effect.Effect<ReadonlyArray<Attempt>, never, RecordingSender> = Effect.flatMap(
  RecordingSender,
  (recorder) => recorder.attempts
)

/**
 * Messages delivered successfully, duplicates included, in delivery order.
 *
 * @category testing
 * @since 0.1.0
 */
export const sent: Effect.Effect<ReadonlyArray<OutboxMessage>, never, RecordingSender> = Effect.map(
  attempts,
  (all) => all.filter((attempt) => attempt.outcome === "sent").map((attempt) => attempt.message)
)

/**
 * Ids delivered successfully, duplicates included, in delivery order.
 *
 * @category testing
 * @since 0.1.0
 */
export const sentIds: Effect.Effect<ReadonlyArray<string>, never, RecordingSender> = Effect.map(
  sent,
  (messages) => messages.map((message) => message.id)
)

/**
 * How many successful deliveries went beyond the first of their message.
 *
 * @category testing
 * @since 0.1.0
 */
export const duplicates: Effect.Effect<number, never, RecordingSender> = Effect.map(
  sentIds,
  (ids) => ids.length - new Set(ids).size
)

/**
 * Changes the script mid-test (e.g. a receiver that recovers).
 *
 * @category testing
 * @since 0.1.0
 */
export const setBehaviour = (behaviour: Behaviour): Effect.Effect<void, never, RecordingSender> =>
  Effect.flatMap(RecordingSender, (recorder) => recorder.setBehaviour(behaviour))
