/**
 * Leadership decides whether a relay may claim. The default, `always`, lets
 * every relay claim: several relays share one outbox safely through leases.
 * A lock (an in-memory one here, a Postgres advisory lock in the SQL package)
 * makes one relay the only one that drains; a relay that is not leader, or
 * that loses the lock, claims nothing.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

/**
 * The leadership service: asked before every claim.
 *
 * @category tags
 * @since 0.1.0
 */
export class Leadership extends Context.Tag("@effect-outbox/core/Leadership")<Leadership, {
  /** Whether this relay may claim now. Cheap: implementations keep the answer current in the background. */
  readonly isLeader: Effect.Effect<boolean>
}>() {}

/**
 * Every relay is leader: the default.
 *
 * @category layers
 * @since 0.1.0
 */
export const always: Layer.Layer<Leadership> = Layer.succeed(Leadership, { isLeader: Effect.succeed(true) })

/**
 * A lock shared by the relays of one process; at most one holds it.
 *
 * @category models
 * @since 0.1.0
 */
export interface MemoryLock {
  /** Which candidate holds the lock, if any. */
  readonly holder: Ref.Ref<number | null>
  /** Takes the lock away from its holder (as a lost connection would): the next candidate to ask gets it. */
  readonly revoke: Effect.Effect<void>
  readonly nextCandidate: Ref.Ref<number>
}

/**
 * Makes an in-memory lock to share between relays (one `layerMemoryLock` per relay).
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemoryLock: Effect.Effect<MemoryLock> = Effect.gen(function*() {
  const holder = yield* Ref.make<number | null>(null)
  return { holder, revoke: Ref.set(holder, null), nextCandidate: yield* Ref.make(1) }
})

/**
 * Leadership through an in-memory lock: the relay is leader while it holds
 * the lock, takes it when it is free, and releases it when its scope closes,
 * so a waiting relay takes over.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemoryLock = (lock: MemoryLock): Layer.Layer<Leadership> =>
  Layer.scoped(
    Leadership,
    Effect.gen(function*() {
      const me = yield* Ref.getAndUpdate(lock.nextCandidate, (n) => n + 1)
      yield* Effect.addFinalizer(() => Ref.update(lock.holder, (holder) => (holder === me ? null : holder)))
      return {
        isLeader: Ref.modify(lock.holder, (holder) =>
          holder === null ? [true, me] : [holder === me, holder])
      }
    })
  )
