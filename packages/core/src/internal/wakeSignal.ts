import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"

/**
 * A broadcast "something changed" signal. A waiter takes the current `round`
 * BEFORE doing its work, then awaits it: a wake-up that arrives while the work
 * runs has already completed that round, so it is not lost.
 */
export interface WakeSignal {
  readonly round: Effect.Effect<Deferred.Deferred<void>>
  readonly wake: Effect.Effect<void>
}

export const make: Effect.Effect<WakeSignal> = Effect.gen(function*() {
  const current = yield* Ref.make(yield* Deferred.make<void>())
  return {
    round: Ref.get(current),
    wake: Effect.flatMap(Deferred.make<void>(), (next) =>
      Effect.flatMap(Ref.getAndSet(current, next), (previous) => Deferred.succeed(previous, undefined)))
  }
})
