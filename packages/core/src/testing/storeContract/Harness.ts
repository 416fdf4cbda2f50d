/**
 * What every group of the store contract shares: how the suite runs against
 * one store, and the moves its tests make (append, claim, complete, wait for a
 * message to come back), in test time or in a live store's own time.
 *
 * @since 0.1.0
 */
import { it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { NewMessage } from "../../Message.js"
import { type Claim, type CompleteReport, type Completion, type Ordering, OutboxStore, type OutboxStoreError } from "../../OutboxStore.js"

/**
 * How to run the suite against one store.
 *
 * @category testing
 * @since 0.1.0
 */
export interface Options<E> {
  /** Builds a fresh, empty, migrated store; built once per test. */
  readonly layer: Layer.Layer<OutboxStore, E>
  /**
   * `test`: the store reads Effect's `Clock`, and tests drive it with `TestClock`.
   * `live`: the store keeps its own time (a database's `now()`); tests use short
   * leases and poll for the expected event, with a deadline.
   */
  readonly clock: "test" | "live"
  /** Per-test timeout in live mode. Default 20 s. */
  readonly timeout?: number | undefined
  /**
   * Whether the store offers the transactional claim mode: its contract
   * (`TransactionalContract`) runs too. Without it, the store must leave
   * `transactional` out, so a relay asking for the mode refuses to start.
   */
  readonly transactional?: boolean | undefined
  /**
   * Whether the store folds acks into claims (`ackAndClaim`): its contract
   * (`AckAndClaimContract`) runs too. Without it, the store must leave `ackAndClaim` out.
   */
  readonly ackAndClaim?: boolean | undefined
}

/**
 * A message to append.
 *
 * @category testing
 * @since 0.1.0
 */
export const message = (topic: string, payload: unknown, extra: Partial<NewMessage> = {}): NewMessage => ({
  topic,
  key: null,
  payload,
  headers: {},
  ...extra
})

/**
 * The suite's view of one store, shared by its groups of tests.
 *
 * @category testing
 * @since 0.1.0
 */
export interface Harness {
  /** Whether the store keeps its own time (see `Options.clock`). */
  readonly live: boolean
  /**
   * Live, the shortest lease or delay a test relies on: what the test does right
   * after a claim or a retry (another claim, a renewal) must come before it ends,
   * even on a loaded 2-core machine.
   */
  readonly liveWait: Duration.Duration
  /** A lease the tests let expire. */
  readonly shortLease: Duration.Duration
  /** A lease that outlives every test. */
  readonly longLease: Duration.Duration
  /** How long to let pass between two tries while waiting for an event. */
  readonly step: Duration.Duration
  /** Lets `duration` pass: the test clock moves, or real time goes by. */
  readonly elapse: (duration: Duration.Duration) => Effect.Effect<void>
  /** Registers one test, run on a fresh store. */
  readonly test: (title: string, body: Effect.Effect<void, OutboxStoreError | Error, OutboxStore>) => void
  readonly store: typeof OutboxStore
  readonly claim: (batchSize: number, leaseFor?: Duration.Duration, freshFirst?: boolean) => Effect.Effect<Claim, OutboxStoreError, OutboxStore>
  readonly claimOrdered: (ordered?: Ordering, batchSize?: number) => Effect.Effect<Claim, OutboxStoreError, OutboxStore>
  /** What a claim handed out, as `[topic, key, n]` with `n` from the payload. */
  readonly handed: (claimed: Claim) => ReadonlyArray<ReadonlyArray<unknown>>
  readonly append: (...messages: ReadonlyArray<NewMessage>) => Effect.Effect<ReadonlyArray<string>, OutboxStoreError, OutboxStore>
  readonly complete: (claimed: Claim, completions: ReadonlyArray<Completion>) => Effect.Effect<CompleteReport, OutboxStoreError, OutboxStore>
  /** Claims until a claim holds `id` (the event the test waits for), letting time pass between tries. */
  readonly claimUntilHolding: (id: string, leaseFor?: Duration.Duration, ordered?: Ordering) => Effect.Effect<Claim, OutboxStoreError | Error, OutboxStore>
  readonly message: typeof message
}

/**
 * The harness for the store `options` describe.
 *
 * @category testing
 * @since 0.1.0
 */
export const make = <E>(options: Options<E>): Harness => {
  const live = options.clock === "live"
  const liveWait = Duration.seconds(2)
  const shortLease = live ? liveWait : Duration.seconds(30)
  const longLease = Duration.minutes(10)
  const step = live ? Duration.millis(50) : Duration.seconds(1)
  const elapse = (duration: Duration.Duration) => (live ? Effect.sleep(duration) : TestClock.adjust(duration))

  const test = (title: string, body: Effect.Effect<void, OutboxStoreError | Error, OutboxStore>) =>
    (live ? it.live : it.effect)(title, () => Effect.provide(body, options.layer), options.timeout ?? 20_000)

  const store = OutboxStore
  const claim = (batchSize: number, leaseFor: Duration.Duration = longLease, freshFirst = false) =>
    Effect.flatMap(store, (s) => s.claim({ batchSize, leaseFor, freshFirst }))
  const claimOrdered = (ordered: Ordering = "all", batchSize = 10) =>
    Effect.flatMap(store, (s) => s.claim({ batchSize, leaseFor: longLease, ordered }))
  const handed = (claimed: Claim) =>
    claimed.messages.map((m) => [m.topic, m.key, (m.payload as { readonly n: number }).n])
  const append = (...messages: ReadonlyArray<NewMessage>) => Effect.flatMap(store, (s) => s.append(messages))
  const complete = (claimed: Claim, completions: ReadonlyArray<Completion>) =>
    Effect.flatMap(store, (s) => s.complete(claimed.token, completions))

  const claimUntilHolding = (id: string, leaseFor: Duration.Duration = longLease, ordered?: Ordering) =>
    Effect.gen(function*() {
      const deadline = live ? 200 : 1_000
      for (let tries = 0; tries < deadline; tries++) {
        const claimed = yield* Effect.flatMap(store, (s) => s.claim({ batchSize: 10, leaseFor, ordered }))
        if (claimed.messages.some((m) => m.id === id)) return claimed
        yield* elapse(step)
      }
      return yield* Effect.fail(new Error(`message ${id} was never claimable again`))
    })

  return {
    live,
    liveWait,
    shortLease,
    longLease,
    step,
    elapse,
    test,
    store,
    claim,
    claimOrdered,
    handed,
    append,
    complete,
    claimUntilHolding,
    message
  }
}
