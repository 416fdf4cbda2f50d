/**
 * The contract of a store's transactional claim mode (`OutboxStore.transactional`),
 * as vitest tests. `StoreContract.run` registers it for a store that declares
 * the mode (`transactional: true`) and checks that a store that does not leaves it out.
 *
 * @since 0.1.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { NewMessage } from "../Message.js"
import { type Claim, type ClaimOptions, Completion, OutboxStore, type OutboxStoreError } from "../OutboxStore.js"

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

const message = (topic: string, n: number, key: string | null = null): NewMessage => ({
  topic,
  key,
  payload: { n },
  headers: {}
})

/**
 * Registers the transactional-mode tests for a store under `describe(name)`.
 *
 * @category testing
 * @since 0.1.0
 */
export const run = <E>(name: string, options: Options<E>): void => {
  const live = options.clock === "live"
  const test = (title: string, body: Effect.Effect<void, OutboxStoreError | Error, OutboxStore>) =>
    (live ? it.live : it.effect)(title, () => Effect.provide(body, options.layer), options.timeout ?? 20_000)
  const lease = Duration.minutes(10)
  const claimOptions = (extra: Partial<ClaimOptions> = {}): ClaimOptions => ({ batchSize: 10, leaseFor: lease, ...extra })
  const append = (...messages: ReadonlyArray<NewMessage>) => Effect.flatMap(OutboxStore, (s) => s.append(messages))
  /** A transactional claim whose settlement is `decide` (called with the claim). */
  const transact = (options: ClaimOptions, decide: (claim: Claim) => ReadonlyArray<Completion>) =>
    Effect.flatMap(OutboxStore, (s) => {
      const transactional = s.transactional
      if (transactional === undefined) return Effect.fail(new Error("the store declares no transactional mode"))
      return transactional.run(options, (claim) => Effect.succeed(decide(claim)))
    })
  const leaseClaim = Effect.flatMap(OutboxStore, (s) => s.claim(claimOptions()))
  const ids = (claim: Claim) => claim.messages.map((m) => m.id)

  describe(`${name} (OutboxStore contract, transactional claims)`, () => {
    test("acks, retries, releases and dead letters commit together; a retry keeps its id and counted attempt", Effect.gen(function*() {
      const [acked, retried, dead, released] = yield* append(...[1, 2, 3, 4].map((n) => message("t", n)))
      // Long enough, live, that the immediate claim below comes before it even on a loaded machine.
      const delay = live ? Duration.seconds(3) : Duration.seconds(5)
      const done = yield* transact(claimOptions(), (claim) => {
        expect(claim.messages.map((m) => [m.id, m.attempts])).toEqual([[acked, 1], [retried, 1], [dead, 1], [released, 1]])
        return [
          Completion.Ack({ id: String(acked) }),
          Completion.Retry({ id: String(retried), delay, error: "503" }),
          Completion.DeadLetter({ id: String(dead), reason: "Rejected", error: "400" }),
          Completion.Release({ id: String(released) })
        ]
      })
      expect(done.completions).toHaveLength(4)
      const s = yield* OutboxStore
      expect(yield* s.unsettled([String(acked), String(retried), String(dead), String(released)])).toEqual([
        retried,
        released
      ])
      const letters = yield* s.deadLetters.list({})
      expect(letters.map((l) => [l.id, l.reason, l.lastError, l.attempts, l.payload])).toEqual([
        [dead, "Rejected", "400", 1, { n: 3 }]
      ])
      // The released message is claimable at once and uncounted; the retried one waits for its delay.
      expect((yield* leaseClaim).messages.map((m) => [m.id, m.attempts])).toEqual([[released, 1]])
      if (!live) yield* TestClock.adjust(delay)
      // Waits for the event itself: the retry comes due (live, polled with a deadline).
      let again = yield* leaseClaim
      for (let tries = 0; live && again.messages.length === 0 && tries < 200; tries++) {
        yield* Effect.sleep(Duration.millis(50))
        again = yield* leaseClaim
      }
      expect(again.messages.map((m) => [m.id, m.attempts, m.payload])).toEqual([[retried, 2, { n: 2 }]])
    }))

    test("a settlement that fails rolls the claim back: the batch is claimable at once, counted as a lost claim", Effect.gen(function*() {
      const appended = yield* append(message("t", 1), message("t", 2))
      const s = yield* OutboxStore
      const transactional = s.transactional
      if (transactional === undefined) return yield* Effect.fail(new Error("no transactional mode"))
      const exit = yield* transactional.run(claimOptions(), () => Effect.fail(new Error("the broker went away"))).pipe(
        Effect.exit
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const again = yield* leaseClaim
      expect(again.messages.map((m) => [m.id, m.attempts, m.lostClaims])).toEqual(appended.map((id) => [id, 1, 1]))
    }))

    test("an empty claim commits without settling; batchSize and FIFO hold", Effect.gen(function*() {
      const none = yield* transact(claimOptions(), () => {
        throw new Error("settle must not run on an empty claim")
      })
      expect(none.claim.messages).toEqual([])
      const appended = yield* append(...[1, 2, 3].map((n) => message("t", n)))
      const first = yield* transact(claimOptions({ batchSize: 2 }), (claim) => claim.messages.map((m) => Completion.Ack({ id: m.id })))
      expect(ids(first.claim)).toEqual(appended.slice(0, 2))
      const second = yield* transact(claimOptions(), (claim) => claim.messages.map((m) => Completion.Ack({ id: m.id })))
      expect(ids(second.claim)).toEqual(appended.slice(2))
    }))

    test("ordered: only heads are claimed, and a retried head keeps its key's next message back", Effect.gen(function*() {
      const [a1, a2, b1] = yield* append(message("t", 1, "a"), message("t", 2, "a"), message("t", 3, "b"))
      const first = yield* transact(claimOptions({ ordered: "all" }), (claim) =>
        claim.messages.map((m) =>
          m.id === a1 ? Completion.Retry({ id: m.id, delay: Duration.minutes(5), error: "e" }) : Completion.Ack({ id: m.id })
        ))
      expect(ids(first.claim)).toEqual([a1, b1])
      const second = yield* transact(claimOptions({ ordered: "all" }), () => [])
      expect(second.claim.messages).toEqual([])
      expect(yield* Effect.flatMap(OutboxStore, (s) => s.unsettled([String(a1), String(a2)]))).toEqual([a1, a2])
    }))

    test("freshFirst claims first attempts before retries", Effect.gen(function*() {
      const [old] = yield* append(message("t", 1))
      yield* transact(claimOptions(), (claim) => claim.messages.map((m) => Completion.Retry({ id: m.id, delay: Duration.zero, error: "e" })))
      const [fresh] = yield* append(message("t", 2))
      const next = yield* transact(claimOptions({ freshFirst: true, batchSize: 1 }), (claim) =>
        claim.messages.map((m) => Completion.Ack({ id: m.id })))
      expect(ids(next.claim)).toEqual([fresh])
      const last = yield* transact(claimOptions(), (claim) => claim.messages.map((m) => Completion.Ack({ id: m.id })))
      expect(last.claim.messages.map((m) => [m.id, m.attempts])).toEqual([[old, 2]])
    }))
  })
}
