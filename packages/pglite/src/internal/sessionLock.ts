/**
 * A first-come, first-served lock on the single PGlite session.
 *
 * Effect's semaphore is not fair: a fiber that releases and takes again in the
 * same run gets the permit back before a waiter wakes, so one fiber issuing
 * statements back to back (a relay draining a backlog, a producer in a loop)
 * would starve every other fiber. Here a release hands the lock straight to the
 * longest waiter, and a newcomer queues behind waiters.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/** The session lock. */
export interface SessionLock {
  /** Waits (interruptibly) for the lock, first come first served. */
  readonly take: Effect.Effect<void>
  /** Releases the lock, handing it to the longest waiter if there is one. */
  readonly release: Effect.Effect<void>
  /** Runs `effect` holding the lock. */
  readonly withLock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

interface Waiter {
  handedOver: boolean
  readonly wake: () => void
}

/** Makes an unlocked session lock. */
export const make = (): SessionLock => {
  let held = false
  const waiters: Array<Waiter> = []

  const releaseUnsafe = () => {
    const next = waiters.shift()
    if (next === undefined) {
      held = false
    } else {
      // Ownership moves with the wake-up, so no newcomer can slip in between.
      next.handedOver = true
      next.wake()
    }
  }

  const take = Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      if (!held) {
        held = true
        return Effect.void
      }
      return restore(Effect.async<void>((resume) => {
        const waiter: Waiter = { handedOver: false, wake: () => resume(Effect.void) }
        waiters.push(waiter)
        // Interrupted while waiting: leave the queue, or, if the lock was handed
        // over just before the interruption was seen, pass it on.
        return Effect.sync(() => {
          if (waiter.handedOver) {
            releaseUnsafe()
          } else {
            const index = waiters.indexOf(waiter)
            if (index >= 0) waiters.splice(index, 1)
          }
        })
      }))
    })
  )

  const release = Effect.sync(releaseUnsafe)

  return {
    take,
    release,
    withLock: (effect) =>
      Effect.uninterruptibleMask((restore) => Effect.zipRight(restore(take), Effect.ensuring(restore(effect), release)))
  }
}
