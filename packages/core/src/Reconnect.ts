/**
 * A session supervisor for connection-oriented senders (NATS, AMQP, …): it
 * owns the broker session, replaces it when it ends, and decides when to give up.
 *
 * Rules:
 * - Establishment retries on the backoff schedule (exponential from
 *   `initialBackoff`, capped at `maxBackoff`, jittered).
 * - An authentication/permission (`Auth`) or configuration (`Config`) error
 *   fails after exactly one attempt: retrying cannot fix it, and a retry
 *   storm of bad logins can lock an account.
 * - Failed attempts and mid-run drops spend one cumulative budget; the budget
 *   (and the backoff) resets once a session proves healthy: a publish on it
 *   was confirmed, or it stayed up longer than `maxBackoff`. A flapping
 *   connection therefore gives up instead of looping forever.
 * - A server-announced drain (`CloseReason.Drained`) reconnects after
 *   `initialBackoff` without spending budget. A clean close the server did
 *   not announce (`CloseReason.Closed`) spends budget like a drop: a server
 *   that closes every session at once is given up on, not reconnected forever.
 * - Shutdown (closing the supervisor's scope) wins at once, even during a backoff.
 * - At most one session is alive: the old one is closed before a new one opens.
 * - When the budget is spent the supervisor fails with a `ReconnectError`
 *   naming the broker and the last cause; every later send fails with it.
 *
 * Publishes the broker has not confirmed when a session drops are published
 * again on the next session by `ConfirmedSend.sendConfirmed`, within the same
 * send call (see there).
 *
 * @example
 * import { Effect, type Scope } from "effect"
 * import { ConfirmedSend, Reconnect } from "@effect-outbox/core"
 *
 * interface Session { readonly publish: (subject: string, data: Uint8Array) => Promise<void> }
 * declare const openSession: Effect.Effect<Session, Reconnect.ConnectError, Scope.Scope>
 * declare const endOf: (session: Session) => Effect.Effect<Reconnect.CloseReason>
 * declare const publishOne: ConfirmedSend.Publish<Session>
 *
 * const program = Effect.gen(function*() {
 *   const supervisor = yield* Reconnect.make({
 *     broker: "NATS at 127.0.0.1:4222",
 *     connect: openSession,          // Effect<Session, ConnectError, Scope>
 *     closed: (session) => endOf(session) // Effect<CloseReason>
 *   })
 *   const send = ConfirmedSend.sendConfirmed(supervisor, publishOne, { timeout: "5 seconds" })
 * })
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { CloseReason, type ConnectError, ReconnectError } from "./internal/sessionEnds.js"

export {
  /**
   * Opening a session failed: `Auth` and `Config` are not retried, `Transient` is.
   *
   * @category errors
   * @since 0.1.0
   */
  ConnectError,
  /**
   * Why a session ended (`Dropped`, `Drained`, `Closed`, `Revoked`), with its constructors and matchers.
   *
   * @category models
   * @since 0.1.0
   */
  CloseReason,
  /**
   * The supervisor gave up (or was shut down): every send through it fails with this.
   *
   * @category errors
   * @since 0.1.0
   */
  ReconnectError
} from "./internal/sessionEnds.js"

/**
 * How a supervisor backs off and when it gives up: the `reconnect` option
 * every broker sender (NATS, AMQP, Redis) takes. Unset fields use `defaults`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Tuning {
  /** The first wait after a failure, and the wait after a drain. Default 100 ms. */
  readonly initialBackoff?: Duration.DurationInput | undefined
  /** No wait is longer; a session up longer than this is healthy. Default 5 s. */
  readonly maxBackoff?: Duration.DurationInput | undefined
  /** Failed attempts and drops allowed in a row (until a session proves healthy). Default 10. */
  readonly budget?: number | undefined
}

/**
 * The `Tuning` a supervisor uses for every field left unset.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = { initialBackoff: Duration.millis(100), maxBackoff: Duration.seconds(5), budget: 10 } as const

/**
 * How a supervisor connects and backs off.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<S, R = never> extends Tuning {
  /** The broker, as people know it, for logs and errors. Never include credentials. */
  readonly broker: string
  /** Opens a session; its finalizers (in the given scope) close it. */
  readonly connect: Effect.Effect<S, ConnectError, Scope.Scope | R>
  /** Completes when the session ends, saying why. Interrupted when the supervisor closes the session itself. */
  readonly closed: (session: S) => Effect.Effect<CloseReason>
  /** The waits between attempts. Default: exponential from `initialBackoff`, doubling, jittered ×0.8–1.2. */
  readonly schedule?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * What a sender can tell the supervisor about the session it is using.
 *
 * @category models
 * @since 0.1.0
 */
export interface Handle {
  /** 1 for the first session, then one more per new session. */
  readonly generation: number
  /** A publish on this session was confirmed: the session is healthy, the budget resets. */
  readonly healthy: Effect.Effect<void>
  /** The session is unusable (a publish failed because it is closed): drop it now; this counts as a drop. */
  readonly lost: (reason: string) => Effect.Effect<void>
}

/**
 * A running supervisor.
 *
 * @category models
 * @since 0.1.0
 */
export interface Supervisor<S> {
  readonly broker: string
  /**
   * Runs `f` with the current session, waiting while (re)connecting. Fails with
   * `ReconnectError` once the supervisor has given up. Bound it with the send's timeout.
   */
  readonly withSession: <A, E, R>(
    f: (session: S, handle: Handle) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | ReconnectError, R>
  /** Fails when the supervisor gives up or shuts down; never succeeds. */
  readonly await: Effect.Effect<never, ReconnectError>
}

interface Active<S> {
  readonly session: S
  readonly handle: Handle
}

/**
 * The default waits: exponential from `initial`, doubling, jittered.
 *
 * @category constructors
 * @since 0.1.0
 */
export const exponentialBackoff = (initial: Duration.DurationInput): Schedule.Schedule<unknown, unknown> =>
  Schedule.jittered(Schedule.exponential(initial, 2))

/**
 * Starts a supervisor in the current scope. It connects in the background:
 * `withSession` waits for the first session (or fails when the first
 * attempt is refused for good). Closing the scope closes the session.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <S, R = never>(options: Options<S, R>): Effect.Effect<Supervisor<S>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const { broker } = options
    const initialBackoff = Duration.decode(options.initialBackoff ?? defaults.initialBackoff)
    const maxBackoff = Duration.decode(options.maxBackoff ?? defaults.maxBackoff)
    const budget = Math.max(0, options.budget ?? defaults.budget)
    const waits = (options.schedule ?? exponentialBackoff(initialBackoff)).pipe(
      Schedule.modifyDelay((_, delay) => Duration.min(delay, maxBackoff)),
      Schedule.intersect(Schedule.recurs(budget))
    )
    const driver = yield* Schedule.driver(waits)
    let failures = 0
    let generation = 0

    // Callers wait on `waiting`: completed with the session once it is open,
    // replaced by a fresh one the moment that session is retired, failed for good on giving up.
    let waiting = yield* Deferred.make<Active<S>, ReconnectError>()
    let retiredGeneration = 0
    let gaveUp: ReconnectError | undefined
    const failed = yield* Deferred.make<never, ReconnectError>()

    // Retires a session: new callers wait for the next one. Synchronous, so a
    // sender that saw the session fail never gets it again, whoever notices first.
    const retire = (retiring: number) =>
      Effect.suspend(() => {
        if (retiring <= retiredGeneration || gaveUp !== undefined) return Effect.void
        retiredGeneration = retiring
        return Effect.map(Deferred.make<Active<S>, ReconnectError>(), (next) => {
          waiting = next
        })
      })

    const giveUp = (error: ReconnectError) =>
      Effect.suspend(() => {
        if (gaveUp !== undefined) return Effect.void
        gaveUp = error
        return Effect.gen(function*() {
          if (error.reason !== "Shutdown") yield* Effect.logError(error.message)
          yield* Deferred.fail(failed, error)
          const failedWaiting = yield* Deferred.make<Active<S>, ReconnectError>()
          yield* Deferred.fail(failedWaiting, error)
          const previous = waiting
          waiting = failedWaiting
          yield* Deferred.fail(previous, error)
        })
      })

    // One failed attempt or drop: wait the next backoff, or give up when the budget is spent.
    const spend = (detail: string, cause: unknown) =>
      Effect.suspend(() => {
        failures++
        return driver.next(undefined)
      }).pipe(
        Effect.catchAll(() => new ReconnectError({ broker, reason: "Exhausted", detail, failures, cause }))
      )

    const resetBudget = Effect.suspend(() => {
      failures = 0
      return driver.reset
    })

    // Sessions live in child scopes of this one, closed after the supervising
    // fiber stops (finalizers run in reverse order): none can outlive the supervisor.
    const sessions = yield* Scope.make()
    yield* Effect.addFinalizer(() =>
      Scope.close(sessions, Exit.void).pipe(
        Effect.zipRight(giveUp(new ReconnectError({ broker, reason: "Shutdown", detail: "shut down", failures })))
      )
    )

    const attempt = Effect.gen(function*() {
      const scope = yield* Scope.fork(sessions, ExecutionStrategy.sequential)
      const session = yield* options.connect.pipe(
        Scope.extend(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      return { session, scope }
    })

    const establish = Effect.gen(function*() {
      while (true) {
        const result = yield* Effect.either(attempt)
        if (Either.isRight(result)) return result.right
        const error = result.left
        if (error.kind !== "Transient") {
          return yield* new ReconnectError({ broker, reason: error.kind, detail: error.reason, failures, cause: error })
        }
        yield* Effect.logWarning(`Could not connect to ${broker}; retrying`, { error: error.reason })
        yield* spend(error.reason, error)
      }
    })

    const runSession = (session: S, scope: Scope.CloseableScope) =>
      Effect.gen(function*() {
        generation++
        const lost = yield* Deferred.make<string>()
        const ended = yield* Deferred.make<CloseReason>()
        let provedHealthy = false
        const healthy = Effect.suspend(() => {
          if (provedHealthy) return Effect.void
          provedHealthy = true
          return resetBudget
        })
        const mine = generation
        const handle: Handle = {
          generation: mine,
          healthy,
          lost: (reason) => Effect.zipRight(retire(mine), Deferred.succeed(lost, reason))
        }
        yield* options.closed(session).pipe(Effect.intoDeferred(ended), Effect.forkIn(scope))
        // Staying up longer than the longest backoff proves the session healthy too.
        yield* Effect.sleep(maxBackoff).pipe(Effect.zipRight(healthy), Effect.forkIn(scope))
        yield* Deferred.succeed(waiting, { session, handle })
        yield* Effect.logInfo(`Connected to ${broker}`).pipe(Effect.annotateLogs({ generation }))
        const reason = yield* Effect.raceFirst(
          Deferred.await(ended),
          // A sender noticing first usually means the close event is on its way:
          // give it `initialBackoff` to land, so the reason (drain or drop) is the broker's.
          Deferred.await(lost).pipe(
            Effect.flatMap((detail) =>
              Deferred.await(ended).pipe(
                Effect.timeoutTo({
                  duration: initialBackoff,
                  onSuccess: (reason): CloseReason => reason,
                  onTimeout: () => CloseReason.Dropped({ reason: detail })
                })
              )
            )
          )
        )
        // Callers wait for the next session from here on; the old one is closed
        // before any new one is opened (at most one session alive).
        yield* retire(mine)
        yield* Scope.close(scope, Exit.void)
        return reason
      })

    const supervise = Effect.gen(function*() {
      while (true) {
        const { scope, session } = yield* establish
        const reason = yield* runSession(session, scope)
        switch (reason._tag) {
          case "Revoked":
            return yield* new ReconnectError({ broker, reason: "Revoked", detail: reason.reason, failures })
          case "Drained": {
            yield* Effect.logInfo(`${broker} closed the session (${reason.reason}); reconnecting`)
            yield* Effect.sleep(initialBackoff)
            break
          }
          case "Closed": {
            // Unannounced: a broker that closes every session must not be reconnected to forever.
            yield* Effect.logWarning(`${broker} closed the session (${reason.reason}) without announcing it; reconnecting`)
            yield* spend(reason.reason, reason)
            break
          }
          case "Dropped": {
            yield* Effect.logWarning(`Lost the session to ${broker}; reconnecting`, { error: reason.reason })
            yield* spend(reason.reason, reason)
            break
          }
        }
      }
    })

    yield* supervise.pipe(
      Effect.catchAll(giveUp),
      Effect.annotateLogs({ broker }),
      Effect.forkScoped
    )

    return {
      broker,
      withSession: (f) =>
        Effect.suspend(() => Deferred.await(waiting)).pipe(
          Effect.flatMap((active) => f(active.session, active.handle))
        ),
      await: Deferred.await(failed)
    }
  })
