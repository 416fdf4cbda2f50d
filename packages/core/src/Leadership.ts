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

/** The leadership service: asked before every claim. */
export class Leadership extends Context.Tag("@effect-outbox/core/Leadership")<Leadership, {
  /** Whether this relay may claim now. Cheap: implementations keep the answer current in the background. */
  readonly isLeader: Effect.Effect<boolean>
}>() {}

/** Every relay is leader: the default. */
export const always: Layer.Layer<Leadership> = Layer.succeed(Leadership, { isLeader: Effect.succeed(true) })
