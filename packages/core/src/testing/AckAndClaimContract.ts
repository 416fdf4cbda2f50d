/**
 * The contract of a store's folded acks (`OutboxStore.ackAndClaim`), as vitest
 * tests. `StoreContract.run` registers it for a store that declares them
 * (`ackAndClaim: true`) and checks that a store that does not leaves them out.
 *
 * @since 0.1.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { NewMessage } from "../Message.js"
import { type AckedClaim, type Acks, type Claim, OutboxStore, type OutboxStoreError } from "../OutboxStore.js"

/**
 * How to run the suite against one store (as for `StoreContract.run`).
 *
 * @category testing
 * @since 0.1.0
 */
export interface Options<E> {
  readonly layer: Layer.Layer<OutboxStore, E>
  readonly clock: "test" | "live"
  readonly timeout?: number | undefined
}

const message = (n: number): NewMessage => ({ topic: "t", key: null, payload: { n }, headers: {} })

/**
 * Registers the folded-acks tests for a store under `describe(name)`.
 *
 * @category testing
 * @since 0.1.0
 */
export const run = <E>(name: string, options: Options<E>): void => {
  const live = options.clock === "live"
  const test = (title: string, body: Effect.Effect<void, OutboxStoreError | Error, OutboxStore>) =>
    (live ? it.live : it.effect)(title, () => Effect.provide(body, options.layer), options.timeout ?? 20_000)
  const longLease = Duration.minutes(10)
  const append = (count: number) =>
    Effect.flatMap(OutboxStore, (s) => s.append(Array.from({ length: count }, (_, n) => message(n))))
  const claim = (batchSize: number, leaseFor = longLease) =>
    Effect.flatMap(OutboxStore, (s) => s.claim({ batchSize, leaseFor }))
  const ackAndClaim = (acks: Acks, batchSize: number): Effect.Effect<AckedClaim, OutboxStoreError | Error, OutboxStore> =>
    Effect.flatMap(OutboxStore, (s) =>
      s.ackAndClaim === undefined
        ? Effect.fail(new Error("the store declares no ackAndClaim"))
        : s.ackAndClaim(acks, { batchSize, leaseFor: longLease }))
  const acksOf = (claimed: Claim): Acks => ({ token: claimed.token, ids: claimed.messages.map((m) => m.id) })
  const ids = (claimed: Claim) => claimed.messages.map((m) => m.id)
  const unsettled = (of: ReadonlyArray<string>) => Effect.flatMap(OutboxStore, (s) => s.unsettled(of))

  describe(`${name} (OutboxStore contract, acks folded into the next claim)`, () => {
    test("acks the earlier batch and claims the next in one call; the acked messages are gone", Effect.gen(function*() {
      const all = yield* append(7)
      const first = yield* claim(3)
      const { acked, claim: next } = yield* ackAndClaim(acksOf(first), 3)
      expect(acked).toEqual({ completed: ids(first), fenced: [] })
      expect(ids(next)).toEqual(all.slice(3, 6))
      expect(yield* unsettled(ids(first))).toEqual([])
      const last = yield* ackAndClaim(acksOf(next), 3)
      expect(ids(last.claim)).toEqual(all.slice(6))
      const empty = yield* ackAndClaim(acksOf(last.claim), 3)
      expect(empty.acked.completed).toEqual(all.slice(6))
      expect(empty.claim.messages).toEqual([])
      expect(yield* unsettled(all)).toEqual([])
    }))

    test("acks under another token are fenced: left as they were, and reported", Effect.gen(function*() {
      yield* append(2)
      const first = yield* claim(1)
      const { acked, claim: next } = yield* ackAndClaim({ token: "not-the-claims-token", ids: ids(first) }, 1)
      expect(acked).toEqual({ completed: [], fenced: ids(first) })
      expect(next.messages).toHaveLength(1)
      expect(yield* unsettled(ids(first))).toEqual(ids(first))
    }))

    test("a message being acked is never handed out again by the same call, even with its lease run out", Effect.gen(function*() {
      const [only] = yield* append(1)
      const first = yield* claim(1, Duration.millis(1))
      yield* live ? Effect.sleep(Duration.millis(20)) : TestClock.adjust(Duration.millis(20))
      const { acked, claim: next } = yield* ackAndClaim(acksOf(first), 10)
      expect(acked.completed).toEqual([only])
      expect(next.messages).toEqual([])
      expect(yield* unsettled([String(only)])).toEqual([])
    }))
  })
}
