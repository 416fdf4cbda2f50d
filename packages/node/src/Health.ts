/**
 * Liveness and readiness of the runner, as probes (`/healthz`, `/readyz`) can
 * ask for them.
 *
 * Ready means all of:
 * - **store**: `stats` answers within `storeTimeout`;
 * - **relay**: the drain loop's fiber is running (see `RelayProgress.track`),
 *   and its drain steps have not been failing in a row for longer than
 *   `failureThreshold` (a claim statement that keeps failing, a store out of
 *   reach): the last error is the reason;
 * - **progress**: the relay is not stuck. It is stuck when messages are
 *   pending, the oldest has waited longer than `stallThreshold`, and the relay
 *   has settled nothing for longer than `stallThreshold`. Messages waiting for
 *   a retry count as pending, so keep the threshold above the longest retry
 *   delay (the default policy's cap is 5 minutes; the default threshold is 10).
 *
 * Leadership is reported but never makes the runner unready: a standby
 * replica is healthy, and is not expected to make progress.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Leadership, OutboxStore } from "@effect-outbox/core"
import { RelayRegistry } from "@effect-outbox/sql"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Dashboard from "./Dashboard.js"
import { RelayProgress } from "./RelayProgress.js"

/**
 * Readiness settings.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** How long the relay may settle nothing while old messages are pending. Default 10 minutes. */
  readonly stallThreshold?: Duration.DurationInput | undefined
  /** How long the store may take to answer `stats`. Default 5 seconds. */
  readonly storeTimeout?: Duration.DurationInput | undefined
  /** How long the relay's drain steps may fail in a row before it is unready. Default 30 seconds. */
  readonly failureThreshold?: Duration.DurationInput | undefined
}

/**
 * The defaults of `Options`.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  stallThreshold: Duration.minutes(10),
  storeTimeout: Duration.seconds(5),
  failureThreshold: Duration.seconds(30)
} as const

/**
 * One check: whether it passes, and a sentence saying why.
 *
 * @category models
 * @since 0.1.0
 */
export interface Check {
  readonly ok: boolean
  readonly detail: string
}

/**
 * The readiness report, served as the JSON body of `/readyz`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Readiness {
  readonly ready: boolean
  readonly checks: {
    readonly store: Check & { readonly stats: OutboxStore.Stats | null }
    readonly relay: Check & { readonly state: "not started" | "running" | "stopped" }
    readonly leadership: Check & { readonly leader: boolean }
    readonly progress: Check & {
      readonly lastProgressSecondsAgo: number
      readonly stallThresholdSeconds: number
    }
  }
}

const seconds = (millis: number) => Math.round(millis / 1000)

const storeCheck = (timeout: Duration.Duration) =>
  Effect.flatMap(OutboxStore.OutboxStore, (store) => store.stats).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => `the store did not answer within ${Duration.format(timeout)}`
    }),
    Effect.match({
      onFailure: (error) => ({
        ok: false,
        detail: typeof error === "string" ? error : error.message,
        stats: null
      }),
      onSuccess: (stats) => ({
        ok: true,
        detail: `${stats.pending} pending, ${stats.inFlight} in flight, ${stats.dead} dead`,
        stats
      })
    })
  )

/**
 * Checks readiness (see the module comment). Never fails: a failing dependency is a failed check.
 *
 * @category operations
 * @since 0.1.0
 */
export const readiness: (
  options?: Options
) => Effect.Effect<Readiness, never, OutboxStore.OutboxStore | RelayProgress> = Effect.fn("Health.readiness")(
  function*(options: Options = {}) {
    const threshold = Duration.decode(options.stallThreshold ?? defaults.stallThreshold)
    const store = yield* storeCheck(Duration.decode(options.storeTimeout ?? defaults.storeTimeout))
    const progress = yield* (yield* RelayProgress).snapshot
    const leadership = yield* Effect.serviceOption(Leadership.Leadership)
    const leader = Option.isNone(leadership) ? true : yield* leadership.value.isLeader
    const now = yield* Clock.currentTimeMillis

    const failureThreshold = Duration.toMillis(Duration.decode(options.failureThreshold ?? defaults.failureThreshold))
    const failing = progress.failing
    const failingFor = failing === null ? 0 : now - failing.since
    const relay = progress.state._tag === "Running" && failing !== null && failingFor >= failureThreshold
      ? {
        ok: false,
        state: "running" as const,
        detail: `the relay's drain steps have failed for ${seconds(failingFor)} s: ${failing.reason}`
      }
      : progress.state._tag === "Running"
      ? {
        ok: true,
        state: "running" as const,
        detail: failing === null
          ? "the drain loop is running"
          : `the drain loop is running; its steps have failed for ${seconds(failingFor)} s: ${failing.reason}`
      }
      : progress.state._tag === "Stopped"
      ? { ok: false, state: "stopped" as const, detail: progress.state.reason }
      : { ok: false, state: "not started" as const, detail: "the relay has not started" }

    const sinceProgress = now - progress.lastProgressAt
    const stats = store.stats
    const idleWithWork = relay.ok && leader && stats !== null && stats.pending > 0 &&
      (stats.oldestPendingAgeMillis ?? 0) > Duration.toMillis(threshold) &&
      sinceProgress > Duration.toMillis(threshold)
    // Messages held behind parked keys wait for an operator, not for this relay:
    // restarting or unrouting it would not help, so that is reported, not failed.
    const parked = idleWithWork && stats.parkedKeys > 0
    const stalled = idleWithWork && !parked
    const progressDetail = parked
      ? `waiting: ${stats.pending} messages pending, ${stats.parkedKeys} keys parked behind dead letters (replay or purge them to resume); nothing settled for ${
        seconds(sinceProgress)
      } s`
      : stalled
      ? `stalled: ${stats.pending} messages pending (the oldest for ${
        seconds(stats.oldestPendingAgeMillis ?? 0)
      } s) and nothing settled for ${seconds(sinceProgress)} s`
      : !relay.ok
      ? "not checked: the relay is not running"
      : !leader
      ? "not checked: another relay holds leadership"
      : stats === null
      ? "not checked: the store is unreachable"
      : stats.pending === 0
      ? "nothing is pending"
      : `last settled a batch ${seconds(sinceProgress)} s ago`

    const checks: Readiness["checks"] = {
      store,
      relay,
      leadership: {
        ok: true,
        leader,
        detail: leader ? "this relay may claim" : "standing by: another relay holds leadership"
      },
      progress: {
        ok: !stalled,
        detail: progressDetail,
        lastProgressSecondsAgo: seconds(sinceProgress),
        stallThresholdSeconds: seconds(Duration.toMillis(threshold))
      }
    }
    return { ready: store.ok && relay.ok && !stalled, checks }
  }
)

/**
 * The relays registered on this outbox (`{ relays }`), when a `RelayRegistry`
 * is in context; informative only: they never change readiness.
 */
const relays = Effect.flatMap(Dashboard.lookup(RelayRegistry.RelayRegistry), (registry) =>
  registry._tag !== "Found" ? Effect.succeed({}) : registry.service.list.pipe(
    Effect.map((list) => ({
      relays: list.map(({ claimMode, host, lastBatchAt, lastSeenSecondsAgo, pid, relayId, state }) => ({
        relayId, host, pid, state, claimMode, lastBatchAt, lastSeenSecondsAgo
      }))
    })),
    Effect.orElseSucceed(() => ({ relays: null }))
  ))

/**
 * `GET /healthz` (200 while the process serves requests) and `GET /readyz`
 * (200 when ready, 503 when not, with the `Readiness` report as JSON).
 *
 * @category http
 * @since 0.1.0
 */
export const router = (options: Options = {}): HttpRouter.HttpRouter<never, OutboxStore.OutboxStore | RelayProgress> =>
  HttpRouter.empty.pipe(
    HttpRouter.get("/healthz", Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" }))),
    HttpRouter.get(
      "/readyz",
      Effect.map(
        Effect.zip(readiness(options), relays),
        ([report, listed]) => HttpServerResponse.unsafeJson({ ...report, ...listed }, { status: report.ready ? 200 : 503 })
      )
    )
  )
