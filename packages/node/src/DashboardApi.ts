/**
 * The admin routes the dashboard reads and acts through, beside `AdminApi`'s
 * (same tokens: every route needs the admin token or, for reads, the
 * read-only one). They need `OutboxInsight`, `RelayRegistry` and
 * `DashboardSeries` in context (the runner provides them); without them they
 * answer 404.
 *
 * - `GET /admin/overview` → `{ overview, readiness: { ready, reason } }`: counts
 *   (each `{ value, kind }`, `kind` saying `exact`, `atLeast` or `estimate`).
 * - `GET /admin/series?topic=` → the last 15 minutes, per second.
 * - `GET /admin/relays` → `{ relays }`: every relay's last heartbeat.
 * - `GET /admin/messages?topic=&key=&state=&after=&limit=` → a keyset page of
 *   waiting messages, without payloads; `GET /admin/messages/:id` → one, in full.
 * - `GET /admin/dead-letters/search?topic=&reason=&key=&error=&olderThan=&newerThan=&after=&limit=`
 *   → a keyset page of dead letters (no payloads, errors cut short);
 *   `GET /admin/dead-letters/:id` → one, in full.
 * - `POST /admin/dead-letters/search/replay` and `/search/purge` with the same
 *   filters: `dryRun=true` → `{ dryRun, matched, upTo }`; then the same filters
 *   with `upTo` act on exactly the letters counted (none newer) →
 *   `{ replayed }` / `{ purged }`. Unfiltered, they need `all=true`.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { DeadLetter, DurationText, OutboxStore } from "@effect-outbox/core"
import { OutboxInsight, RelayRegistry } from "@effect-outbox/sql"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as AdminApi from "./AdminApi.js"
import * as Dashboard from "./Dashboard.js"
import { DashboardSeries } from "./DashboardSeries.js"
import * as Health from "./Health.js"
import * as AdminAnswers from "./internal/adminAnswers.js"
import { json, problem } from "./internal/adminAnswers.js"
import * as DeadLetterQuery from "./internal/deadLetterQuery.js"
import type { RelayProgress } from "./RelayProgress.js"

/**
 * Dashboard API settings: the admin API's tokens, and readiness settings for the overview.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends AdminApi.Options {
  readonly readiness?: Health.Options | undefined
}


type Params = DeadLetterQuery.Params
type Parsed<A> = Either.Either<A, DeadLetterQuery.InvalidQuery>

const invalid = (parameter: string, detail: string) => Either.left(new DeadLetterQuery.InvalidQuery({ parameter, detail }))

const refuseUnknown = DeadLetterQuery.refuseUnknown

/** A parameter given once, trimmed; empty means not given. */
const text = (params: Params, name: string): Parsed<string | undefined> => {
  const value = params[name]
  if (value === undefined) return Either.right(undefined)
  if (typeof value !== "string") return invalid(name, "given more than once; give it once")
  return Either.right(value.trim() === "" ? undefined : value.trim())
}

const id = (params: Params, name: string): Parsed<string | undefined> =>
  Either.flatMap(text(params, name), (value) =>
    value === undefined || /^\d{1,19}$/.test(value) ? Either.right(value) : invalid(name, "expected a message id"))

const duration = (params: Params, name: string) =>
  Either.flatMap(text(params, name), (value) => {
    if (value === undefined) return Either.right(undefined)
    return Option.match(DurationText.parse(value), {
      onNone: () => invalid(name, `expected a duration like ${DurationText.examples}`),
      onSome: (parsed) => Either.right(parsed)
    })
  })

const limit = (params: Params, max: number): Parsed<number> =>
  Either.flatMap(text(params, "limit"), (value) => {
    if (value === undefined) return Either.right(50)
    const n = Number(value)
    return /^\d+$/.test(value) && n >= 1 && n <= max ? Either.right(n) : invalid("limit", `expected a whole number from 1 to ${max}`)
  })

const flag = (params: Params, name: string): Parsed<boolean> =>
  Either.flatMap(text(params, name), (value) =>
    value === undefined || value === "false" ? Either.right(false) : value === "true" ? Either.right(true) : invalid(name, "expected true or false"))

const deadLetterFilterNames = ["topic", "reason", "key", "error", "olderThan", "newerThan"] as const

const deadLetterFilter = (params: Params): Parsed<OutboxInsight.DeadLetterFilter> =>
  Either.gen(function*() {
    const reasonText = yield* text(params, "reason")
    const reason = DeadLetter.reasons.find((candidate) => candidate === reasonText)
    if (reasonText !== undefined && reason === undefined) {
      return yield* invalid("reason", `expected one of ${DeadLetter.reasons.join(", ")}`)
    }
    return {
      topic: yield* text(params, "topic"),
      reason,
      key: yield* text(params, "key"),
      error: yield* text(params, "error"),
      olderThan: yield* duration(params, "olderThan"),
      newerThan: yield* duration(params, "newerThan")
    }
  })

const isNarrowed = (filter: OutboxInsight.DeadLetterFilter) =>
  deadLetterFilterNames.some((name) => filter[name] !== undefined)

const states: ReadonlyArray<OutboxInsight.WaitingState> = ["due", "inFlight", "retrying", "delayed"]

const waitingFilterNames = ["topic", "key", "state"] as const

const waitingFilter = (params: Params) =>
  Either.gen(function*() {
    const stateText = yield* text(params, "state")
    const state = states.find((candidate) => candidate === stateText)
    if (stateText !== undefined && state === undefined) {
      return yield* invalid("state", `expected one of ${states.join(", ")}`)
    }
    return { topic: yield* text(params, "topic"), key: yield* text(params, "key"), state }
  })

/** Parses the query string with `parse` (400 naming a bad parameter), then answers with `use`. */
const withParams = AdminAnswers.withParsed("A dashboard request")

type Insight = Context.Tag.Service<OutboxInsight.OutboxInsight>

/** Answers the message `find` finds by the `:id` path parameter, or 404 with `missing`. */
const byId = (
  find: (insight: Insight, id: string) => Effect.Effect<unknown, OutboxStore.OutboxStoreError>,
  missing: string
) =>
  needs(OutboxInsight.OutboxInsight, (insight) =>
    withParams(() => Either.right(undefined), () =>
      Effect.flatMap(HttpRouter.params, (params) =>
        Effect.map(find(insight, params["id"] ?? ""), (found) => (found === null ? problem(404, missing) : json(found))))))

/** Runs `use` with one of the dashboard's services: 404 when this process serves no dashboard, 503 until the outbox is open. */
const needs = <I extends Dashboard.Services, S, R>(
  tag: Context.Tag<I, S>,
  use: (service: S) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>
) =>
  Effect.flatMap(Dashboard.lookup(tag), (found) =>
    found._tag === "Found"
      ? use(found.service)
      : Effect.succeed(
        found._tag === "Waiting"
          ? problem(503, "waiting for the database: the outbox is not open yet")
          : problem(404, "the dashboard's data is not served by this process")
      ))

const reasonOf = (report: Health.Readiness): string => {
  const failing = Object.values(report.checks).find((check) => !check.ok)
  return failing === undefined ? report.checks.progress.detail : failing.detail
}

/**
 * A keyset page of `OutboxInsight`: the query takes the filter's `names`
 * (parsed by `filter`), `after` and `limit` (at most 500), and nothing else.
 */
const keysetPage = <F, A>(
  names: ReadonlyArray<string>,
  filter: (params: Params) => Parsed<F>,
  list: (
    insight: Insight,
    query: F & { readonly after: string | undefined; readonly limit: number }
  ) => Effect.Effect<A, OutboxStore.OutboxStoreError>
) =>
  needs(OutboxInsight.OutboxInsight, (insight) =>
    withParams(
      (params) =>
        Either.gen(function*() {
          yield* refuseUnknown(params, [...names, "after", "limit"])
          return { ...(yield* filter(params)), after: yield* id(params, "after"), limit: yield* limit(params, 500) }
        }),
      (query) => Effect.map(list(insight, query), (page) => json(page))
    ))

/** Replays or purges matching letters a keyset chunk at a time, through the store (which keeps its semantics). */
const act = (
  action: "replay" | "purge",
  insight: Insight,
  filter: OutboxInsight.DeadLetterFilter
) =>
  Effect.gen(function*() {
    const { deadLetters } = yield* OutboxStore.OutboxStore
    let total = 0
    let after = filter.after
    for (;;) {
      const ids = yield* insight.deadLetterIds({ ...filter, after, limit: 1000 })
      if (ids.length === 0) return total
      total += yield* (action === "replay" ? deadLetters.replay({ ids }) : deadLetters.purge({ ids }))
      after = ids[ids.length - 1]
    }
  })

const bulk = (action: "replay" | "purge") =>
  needs(OutboxInsight.OutboxInsight, (insight) =>
    withParams(
      (params) =>
        Either.gen(function*() {
          yield* refuseUnknown(params, [...deadLetterFilterNames, "dryRun", "all", "upTo"])
          return {
            filter: { ...(yield* deadLetterFilter(params)), upTo: yield* id(params, "upTo") },
            dryRun: yield* flag(params, "dryRun"),
            all: yield* flag(params, "all")
          }
        }),
      ({ all, dryRun, filter }) =>
        Effect.gen(function*() {
          if (!all && !isNarrowed(filter)) {
            return problem(400, `give at least one filter (${deadLetterFilterNames.join(", ")}), or all=true to ${action} every dead letter`)
          }
          if (dryRun) {
            const counted = yield* insight.countDeadLetters(filter)
            return json({ dryRun: true, matched: counted.matched, upTo: counted.maxId })
          }
          const count = yield* act(action, insight, filter)
          yield* Effect.logInfo(`Dead letters ${action === "replay" ? "replayed" : "purged"} from the dashboard`).pipe(
            Effect.annotateLogs({ count })
          )
          return json(action === "replay" ? { replayed: count } : { purged: count })
        })
    ))

/**
 * The dashboard's admin routes.
 *
 * @category http
 * @since 0.1.0
 */
export const router = (
  options: Options
): HttpRouter.HttpRouter<never, OutboxStore.OutboxStore | RelayProgress> => {
  const read = AdminApi.authorized(options, "read")
  const write = AdminApi.authorized(options, "write")
  return HttpRouter.empty.pipe(
    HttpRouter.get(
      "/admin/overview",
      read(needs(OutboxInsight.OutboxInsight, (insight) =>
        withParams((params) => refuseUnknown(params, []), () =>
          Effect.gen(function*() {
            const overview = yield* insight.overview
            const readiness = yield* Health.readiness(options.readiness)
            return json({ overview, readiness: { ready: readiness.ready, reason: reasonOf(readiness) } })
          }))))
    ),
    HttpRouter.get(
      "/admin/series",
      read(needs(DashboardSeries, (series) =>
        withParams(
          (params) => Either.flatMap(refuseUnknown(params, ["topic"]), () => text(params, "topic")),
          (topic) => Effect.map(series.read(topic), (data) => json(data))
        )))
    ),
    HttpRouter.get(
      "/admin/relays",
      read(needs(RelayRegistry.RelayRegistry, (registry) =>
        withParams((params) => refuseUnknown(params, []), () => Effect.map(registry.list, (relays) => json({ relays }))))))
    ,
    HttpRouter.get("/admin/messages", read(keysetPage(waitingFilterNames, waitingFilter, (insight, filter) => insight.waiting(filter)))),
    HttpRouter.get(
      "/admin/messages/:id",
      read(byId((insight, id) => insight.message(id), "no such waiting message (it may have been delivered)"))
    ),
    HttpRouter.get(
      "/admin/dead-letters/search",
      read(keysetPage(deadLetterFilterNames, deadLetterFilter, (insight, filter) => insight.deadLetters(filter)))
    ),
    HttpRouter.get(
      "/admin/dead-letters/:id",
      read(byId((insight, id) => insight.deadLetter(id), "no such dead letter (it may have been replayed or purged)"))
    ),
    HttpRouter.post("/admin/dead-letters/search/replay", write(bulk("replay"))),
    HttpRouter.post("/admin/dead-letters/search/purge", write(bulk("purge")))
  )
}
