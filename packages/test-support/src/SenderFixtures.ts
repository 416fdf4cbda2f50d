/**
 * What the sender tests of every broker share: a claimed message to hand a
 * sender, a sender built in the test's scope, and the tally of what a broker
 * stored or delivered (and the check that it is each message once).
 */
import { type Message, Sender } from "@effect-outbox/core"
import { expect } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"

/** A claimed message on its first attempt, as the relay hands it to a sender. */
export const message = (id: string, topic: string, overrides: Partial<Message.OutboxMessage> = {}): Message.OutboxMessage => ({
  id,
  topic,
  key: null,
  payload: { n: id },
  headers: {},
  attempts: 1,
  lostClaims: 0,
  createdAt: new Date(0),
  availableAt: new Date(0),
  ...overrides
})

/** Builds a sender layer in the current scope (closed with the test's) and returns the sender. */
export const buildSender = <E, R>(layer: Layer.Layer<Sender.Sender, E, R>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, Sender.Sender))

/** Total and distinct message ids: duplicates are what the broker's dedupe (if any) did not catch. */
export const tally = (ids: ReadonlyArray<string>) => {
  const distinct = new Set(ids)
  return { total: ids.length, distinct: distinct.size, duplicates: ids.length - distinct.size, ids: distinct }
}

/** Asserts what the broker has (its `tally`) is every one of `ids` exactly once, and nothing else. */
export const expectEachOnce = (consumed: ReturnType<typeof tally>, ids: ReadonlyArray<string>) => {
  expect(consumed).toMatchObject({ total: ids.length, distinct: ids.length, duplicates: 0 })
  expect(consumed.ids).toEqual(new Set(ids))
}
