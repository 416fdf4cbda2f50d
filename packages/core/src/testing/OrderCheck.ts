/**
 * Checks ordered delivery from the receiving side: wrap the sender a relay
 * uses, and every batch it is handed is checked against the ordering promise
 * as it arrives —
 * - a key appears at most once in a batch, and is never in two sends at once;
 * - a message is handed over only once every earlier message of its key is
 *   settled (acked, or dead-lettered and skipped), asked of the store at that moment.
 *
 * Redelivery of the same message is allowed (at-least-once) and counted.
 *
 * @example
 * import { expect } from "@effect/vitest"
 * import { Effect } from "effect"
 * import type { Sender } from "@effect-outbox/core"
 * import { OrderCheck } from "@effect-outbox/core/testing"
 *
 * declare const recorder: { readonly sender: Sender.Sender["Type"] }
 * declare const published: ReadonlyArray<{ readonly id: string; readonly key: string | null }>
 *
 * const program = Effect.gen(function*() {
 *   const check = yield* OrderCheck.make(recorder.sender, OrderCheck.earlierOnKey(published))
 *   // run relays with check.sender, drain, then:
 *   expect(yield* check.violations).toEqual([])
 * })
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type { MessageId, OutboxMessage } from "../Message.js"
import { OutboxStore } from "../OutboxStore.js"
import { Sender } from "../Sender.js"

/**
 * The checking sender and what it saw.
 *
 * @category testing
 * @since 0.1.0
 */
export interface OrderCheck {
  readonly sender: Sender["Type"]
  /** Each broken promise, described (empty when ordering held). */
  readonly violations: Effect.Effect<ReadonlyArray<string>>
  /** Per key, the ids in the order they were first handed over. */
  readonly firstHandovers: Effect.Effect<ReadonlyMap<string, ReadonlyArray<MessageId>>>
  /** Hand-overs of a message already handed over before. */
  readonly redeliveries: Effect.Effect<number>
}

/**
 * Wraps `sender`. `earlierOf(id)` names the messages published before `id`
 * with the same key (the test knows them: it published them).
 *
 * @category testing
 * @since 0.1.0
 */
export const make = (
  sender: Sender["Type"],
  earlierOf: (id: MessageId) => ReadonlyArray<MessageId>
): Effect.Effect<OrderCheck, never, OutboxStore> =>
  Effect.gen(function*() {
    const store = yield* OutboxStore
    const violations = yield* Ref.make<ReadonlyArray<string>>([])
    const inSend = new Set<string>()
    const handed = new Set<MessageId>()
    const first = new Map<string, Array<MessageId>>()
    let redeliveries = 0
    const violation = (text: string) => Ref.update(violations, (all) => [...all, text])

    // Synchronous, so two concurrent sends cannot both pass before either marks its keys.
    const enter = (keyed: ReadonlyArray<OutboxMessage & { readonly key: string }>) => {
      const found: Array<string> = []
      const keys = new Set<string>()
      for (const message of keyed) {
        if (keys.has(message.key)) found.push(`key ${message.key} twice in one batch`)
        if (inSend.has(message.key)) found.push(`key ${message.key} in two sends at once`)
        keys.add(message.key)
      }
      keys.forEach((key) => inSend.add(key))
      return { keys, found }
    }

    const checkSettled = (keyed: ReadonlyArray<OutboxMessage & { readonly key: string }>) =>
      Effect.gen(function*() {
        const earlier = keyed.flatMap((message) => earlierOf(message.id))
        const unsettled = new Set(earlier.length === 0 ? [] : yield* Effect.orDie(store.unsettled(earlier)))
        for (const message of keyed) {
          const waiting = earlierOf(message.id).filter((id) => unsettled.has(id))
          if (waiting.length > 0) {
            yield* violation(`${message.id} (key ${message.key}) handed over before ${waiting.join(", ")} settled`)
          }
          if (handed.has(message.id)) {
            redeliveries++
          } else {
            handed.add(message.id)
            const list = first.get(message.key) ?? []
            list.push(message.id)
            first.set(message.key, list)
          }
        }
      })

    const keyedOf = (batch: ReadonlyArray<OutboxMessage>) =>
      batch.filter((message): message is OutboxMessage & { readonly key: string } => message.key !== null)

    return {
      sender: Sender.of({
        send: (batch) =>
          Effect.acquireUseRelease(
            Effect.sync(() => enter(keyedOf(batch))),
            ({ found }) =>
              Effect.zipRight(
                Effect.zipRight(Effect.forEach(found, violation), checkSettled(keyedOf(batch))),
                sender.send(batch)
              ),
            ({ keys }) => Effect.sync(() => keys.forEach((key) => inSend.delete(key)))
          )
      }),
      violations: Ref.get(violations),
      firstHandovers: Effect.sync(() => new Map(Array.from(first, ([key, ids]) => [key, [...ids]] as const))),
      redeliveries: Effect.sync(() => redeliveries)
    }
  })

/**
 * `earlierOf` for `make`, from messages listed in publish order: each id's
 * predecessors on its key (none for unkeyed messages).
 *
 * @category testing
 * @since 0.1.0
 */
export const earlierOnKey = (
  published: ReadonlyArray<{ readonly id: MessageId; readonly key: string | null }>
): (id: MessageId) => ReadonlyArray<MessageId> => {
  const seen = new Map<string, Array<MessageId>>()
  const earlier = new Map<MessageId, ReadonlyArray<MessageId>>()
  for (const { id, key } of published) {
    if (key === null) continue
    const before = seen.get(key) ?? []
    earlier.set(id, [...before])
    seen.set(key, [...before, id])
  }
  return (id) => earlier.get(id) ?? []
}

