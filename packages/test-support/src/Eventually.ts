/**
 * Waiting on a real event with a deadline: tests against a real database,
 * broker or process poll for the outcome instead of sleeping a fixed time.
 */
import { Clock, Effect } from "effect"

/** How often a check runs while waiting. */
const every = 25

/**
 * Waits until `check` holds (an Effect, or a plain function over state the test
 * keeps), polling in real time; dies naming `what` after `seconds`.
 */
export const eventually = <E = never, R = never>(
  what: string,
  check: Effect.Effect<boolean, E, R> | (() => boolean),
  seconds = 30
): Effect.Effect<void, E, R> => {
  const holds = Effect.isEffect(check) ? check : Effect.sync(check)
  return Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + seconds * 1000
    while (!(yield* holds)) {
      if ((yield* Clock.currentTimeMillis) > deadline) {
        return yield* Effect.dieMessage(`timed out after ${seconds} s waiting for ${what}`)
      }
      yield* Effect.sleep(every)
    }
  })
}

/** The same for async tests (those driving a child process): resolves when `check` holds, rejects after `seconds`. */
export const eventuallyAsync = async (what: string, check: () => boolean | Promise<boolean>, seconds = 30): Promise<void> => {
  const deadline = performance.now() + seconds * 1000
  while (performance.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, every))
  }
  throw new Error(`timed out after ${seconds} s waiting for ${what}`)
}
