/**
 * The admin JSON API: outbox stats, dead letters and parked keys, behind a bearer token.
 *
 * Every route needs `Authorization: Bearer <token>` (401 without it or with
 * a wrong one; the comparison takes the same time wherever they differ).
 * Without a configured token the API answers 403: it is off. A read-only
 * token (`readToken`) may call every `GET` route; replay and purge answer it 403.
 *
 * - `GET /admin/stats` → `{ pending, inFlight, dead, oldestPendingAgeMillis, parkedKeys }`
 * - `GET /admin/dead-letters?topic=&reason=&ids=&olderThan=&limit=` →
 *   `{ count, limit, deadLetters: [...] }`, oldest first, at most `limit` (default 100);
 *   each letter says whether it `parksKey`
 * - `GET /admin/parked-keys?limit=` → `{ count, limit, parkedKeys: [...] }`: the keys
 *   that ordered delivery holds back behind a dead letter (`{ key, messageId, topic,
 *   reason, lastError, since }`), oldest first, at most `limit` (default 100).
 *   Replaying or purging the letter `messageId` resumes its key.
 * - `POST /admin/dead-letters/replay` and `POST /admin/dead-letters/purge`
 *   with the same filters → `{ replayed: n }` / `{ purged: n }`; with
 *   `dryRun=true` → `{ dryRun: true, matched: n, ids: [...] }` and nothing changes.
 *   Without any filter they need `all=true`, so a forgotten filter cannot
 *   purge everything.
 *
 * Filters: `topic`; `reason` (`Exhausted`, `Rejected`, `Undecodable`, `Malformed`); `ids`
 * (comma-separated); `olderThan` (died at least this long ago: `90` seconds,
 * `15m`, `2h`, `7d`); `limit`. An unknown or malformed parameter (on any route) → 400 with
 * `{ error }` naming it. A store failure → 503.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { OutboxStore } from "@effect-outbox/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { equalSecrets } from "./internal/constantTime.js"
import * as AdminAnswers from "./internal/adminAnswers.js"
import { json, problem } from "./internal/adminAnswers.js"
import * as DeadLetterQuery from "./internal/deadLetterQuery.js"

/**
 * Admin API settings.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The bearer token; without one the API is off (403). */
  readonly token: Redacted.Redacted<string> | undefined
  /** A second token that may read (every `GET`) but not replay or purge. */
  readonly readToken?: Redacted.Redacted<string> | undefined
}

/**
 * What a route lets a token do: `read` (the admin or the read-only token) or `write` (the admin token only).
 *
 * @category models
 * @since 0.1.0
 */
export type Access = "read" | "write"

/**
 * How many dead letters or parked keys a listing answers when no `limit` is given.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultListLimit = 100


const bearerToken = (authorization: string | undefined): string | undefined => {
  const match = authorization === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(authorization)
  return match?.[1]
}

/**
 * Guards a handler: the bearer token must be the admin token, or, for `read`
 * access, the read-only token. Used by every admin route (and the dashboard's).
 *
 * @category http
 * @since 0.1.0
 */
export const authorized = (options: Options, access: Access = "write") =>
<E, R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (options.token === undefined) {
      return Effect.succeed(problem(403, "the admin API is off: no admin token is configured"))
    }
    const presented = bearerToken(request.headers["authorization"])
    const admin = presented !== undefined && equalSecrets(presented, Redacted.value(options.token))
    const reader = !admin && presented !== undefined && options.readToken !== undefined &&
      equalSecrets(presented, Redacted.value(options.readToken))
    if (!admin && !reader) {
      return Effect.succeed(
        problem(401, presented === undefined ? "missing bearer token" : "invalid bearer token").pipe(
          HttpServerResponse.setHeader("www-authenticate", "Bearer realm=\"outbox-admin\"")
        )
      )
    }
    if (reader && access === "write") {
      return Effect.succeed(problem(403, "this token is read-only: replay and purge need the admin token"))
    }
    return handler
  })

const storeFailure = AdminAnswers.storeFailure("An admin request")

const withParsed = AdminAnswers.withParsed("An admin request")

const withQuery = <R>(
  flags: ReadonlyArray<"dryRun" | "all">,
  use: (query: DeadLetterQuery.Query) => Effect.Effect<HttpServerResponse.HttpServerResponse, OutboxStore.OutboxStoreError, R>
) => withParsed((params) => DeadLetterQuery.parse(params, flags), use)

const store = OutboxStore.OutboxStore

const change = (action: "replay" | "purge") =>
  withQuery(["dryRun", "all"], (query) =>
    Effect.gen(function*() {
      if (!query.all && !DeadLetterQuery.isNarrowed(query.filter)) {
        return problem(400, `give at least one filter (topic, reason, ids, olderThan, limit), or all=true to ${action} every dead letter`)
      }
      const { deadLetters } = yield* store
      if (query.dryRun) {
        const matched = yield* deadLetters.list(query.filter)
        return json({ dryRun: true, matched: matched.length, ids: matched.map((letter) => letter.id) })
      }
      const count = yield* (action === "replay" ? deadLetters.replay(query.filter) : deadLetters.purge(query.filter))
      yield* Effect.logInfo(`Dead letters ${action === "replay" ? "replayed" : "purged"} through the admin API`).pipe(
        Effect.annotateLogs({ count, filter: describeFilter(query) })
      )
      return json(action === "replay" ? { replayed: count } : { purged: count })
    }))

const describeFilter = (query: DeadLetterQuery.Query): string =>
  JSON.stringify({
    ...query.filter,
    olderThan: query.filter.olderThan === undefined ? undefined : Duration.format(query.filter.olderThan)
  })

/**
 * The admin routes under `/admin`.
 *
 * @category http
 * @since 0.1.0
 */
export const router = (options: Options): HttpRouter.HttpRouter<never, OutboxStore.OutboxStore> => {
  const guard = authorized(options, "read")
  const guardWrite = authorized(options, "write")
  return HttpRouter.empty.pipe(
    HttpRouter.get(
      "/admin/stats",
      guard(
        Effect.flatMap(store, (s) => s.stats).pipe(
          Effect.map((stats) => json(stats)),
          Effect.catchTag("OutboxStoreError", storeFailure)
        )
      )
    ),
    HttpRouter.get(
      "/admin/dead-letters",
      guard(withQuery([], (query) =>
        Effect.gen(function*() {
          const filter = { ...query.filter, limit: query.filter.limit ?? defaultListLimit }
          const letters = yield* (yield* store).deadLetters.list(filter)
          return json({ count: letters.length, limit: filter.limit, deadLetters: letters })
        })))
    ),
    HttpRouter.get(
      "/admin/parked-keys",
      guard(withParsed(DeadLetterQuery.parseParkedKeys, (query) =>
        Effect.gen(function*() {
          const limit = query.limit ?? defaultListLimit
          const parkedKeys = yield* (yield* store).deadLetters.parkedKeys({ limit })
          return json({ count: parkedKeys.length, limit, parkedKeys })
        })))
    ),
    HttpRouter.post("/admin/dead-letters/replay", guardWrite(change("replay"))),
    HttpRouter.post("/admin/dead-letters/purge", guardWrite(change("purge")))
  )
}
