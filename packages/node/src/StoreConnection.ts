/**
 * Opening the outbox when the database may not be there yet (a restart, a
 * database that starts after the runner). `outbox run` serves `/readyz` at
 * once and opens the store (migrations included) in the background: while the
 * database is down or starting it tries again with capped backoff, logging
 * once when it starts waiting and once when the database is reachable, not once per try. Until it is open, the `store`
 * it hands to the HTTP routes answers every call with an `OutboxStoreError`
 * saying what it is waiting for, so `/readyz` is 503 with that reason.
 *
 * A database that refuses the settings themselves (a failed password, a
 * database that does not exist) is not waited for: that fails at once, as an
 * `InvalidSetting` naming `OUTBOX_DATABASE_URL`.
 *
 * @example
 * import { Effect } from "effect"
 * import { type RunnerConfig, RunnerLayers, StoreConnection } from "@effect-outbox/node"
 *
 * declare const database: RunnerConfig.Database
 *
 * const program = Effect.gen(function*() {
 *   const connection = yield* StoreConnection.make
 *   // ... serve /readyz over connection.store, then:
 *   const context = yield* StoreConnection.open(connection, RunnerLayers.store(database))
 * })
 *
 * @since 0.1.0
 */
import { OutboxStore } from "@effect-outbox/core"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * Where opening the outbox stands.
 *
 * @category models
 * @since 0.1.0
 */
export type Status =
  | { readonly _tag: "Waiting"; readonly reason: string }
  | { readonly _tag: "Open"; readonly store: OutboxStore.OutboxStore["Type"] }

/**
 * A store that may not be open yet, and its status.
 *
 * @category models
 * @since 0.1.0
 */
export interface StoreConnection {
  readonly status: Ref.Ref<Status>
  /** The store once open; until then every call fails saying what it waits for. */
  readonly store: OutboxStore.OutboxStore["Type"]
}

const waitingFor = (reason: string) => `waiting for the database: ${reason}`

/**
 * A connection not yet open.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<StoreConnection> = Effect.gen(function*() {
  const status = yield* Ref.make<Status>({ _tag: "Waiting", reason: "not connected yet" })
  const withStore = <A>(
    operation: string,
    use: (store: OutboxStore.OutboxStore["Type"]) => Effect.Effect<A, OutboxStore.OutboxStoreError>
  ): Effect.Effect<A, OutboxStore.OutboxStoreError> =>
    Effect.flatMap(Ref.get(status), (current) =>
      current._tag === "Open"
        ? use(current.store)
        : Effect.fail(new OutboxStore.OutboxStoreError({ operation, detail: waitingFor(current.reason) })))
  const store = OutboxStore.OutboxStore.of({
    append: (messages) => withStore("append", (s) => s.append(messages)),
    claim: (options) => withStore("claim", (s) => s.claim(options)),
    complete: (token, completions) => withStore("complete", (s) => s.complete(token, completions)),
    renewLease: (token, ids, leaseFor) => withStore("renewLease", (s) => s.renewLease(token, ids, leaseFor)),
    wakeups: Stream.unwrap(Effect.map(Ref.get(status), (current) => current._tag === "Open" ? current.store.wakeups : Stream.never)),
    nextDue: withStore("nextDue", (s) => s.nextDue),
    unsettled: (ids) => withStore("unsettled", (s) => s.unsettled(ids)),
    deadLetters: {
      list: (filter) => withStore("deadLetters.list", (s) => s.deadLetters.list(filter)),
      replay: (filter) => withStore("deadLetters.replay", (s) => s.deadLetters.replay(filter)),
      purge: (filter) => withStore("deadLetters.purge", (s) => s.deadLetters.purge(filter)),
      parkedKeys: (options) => withStore("deadLetters.parkedKeys", (s) => s.deadLetters.parkedKeys(options))
    },
    stats: withStore("stats", (s) => s.stats)
  })
  return { status, store }
})

/**
 * How long to wait between tries: 200 ms doubling, at most 5 s apart.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultBackoff = Schedule.exponential(Duration.millis(200)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(5)))
)

/**
 * Builds `layer` (the store, migrating) in the current scope, trying again
 * after failures tagged `StartupError` (the database is unreachable or
 * starting) with `backoff`; any other failure (a refused setting) ends it.
 * Logs when it starts waiting and when it is open (the latest reason is in `status`).
 *
 * @category operations
 * @since 0.1.0
 */
export const open = <ROut, E extends { readonly _tag: string; readonly message: string }, R>(
  connection: StoreConnection,
  layer: Layer.Layer<OutboxStore.OutboxStore | ROut, E, R>,
  backoff: Schedule.Schedule<unknown, unknown> = defaultBackoff
): Effect.Effect<Context.Context<OutboxStore.OutboxStore | ROut>, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    let logged: string | undefined
    const attempt = Effect.gen(function*() {
      const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const exit = yield* Effect.exit(Layer.buildWithScope(layer, child))
      if (Exit.isSuccess(exit)) return exit.value
      yield* Scope.close(child, exit)
      return yield* exit
    }).pipe(
      Effect.tapError((error) =>
        Effect.gen(function*() {
          if (error._tag !== "StartupError") return
          yield* Ref.set(connection.status, { _tag: "Waiting", reason: error.message })
          // Once per state change, not per try: the latest reason is on /readyz.
          if (logged === undefined) {
            logged = error.message
            yield* Effect.logWarning(`${error.message}; waiting for the database (retrying with backoff)`)
          }
        })
      )
    )
    const context = yield* Effect.retry(attempt, {
      schedule: backoff,
      while: (error) => error._tag === "StartupError"
    })
    yield* Ref.set(connection.status, { _tag: "Open", store: Context.get(context, OutboxStore.OutboxStore) })
    if (logged !== undefined) yield* Effect.logInfo("The database is reachable; the outbox is open")
    return context
  })
