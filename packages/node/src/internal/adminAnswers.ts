import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { OutboxStore } from "@effect-outbox/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { InvalidQuery, Params } from "./deadLetterQuery.js"

// How the admin and dashboard APIs answer: JSON bodies, `{ error }` problems,
// 400 for a bad query parameter, 503 (logged) when the store fails.

// Bodies are built from plain data (numbers, strings, dates, stored JSON),
// which always serialise; a failure would be a defect, not a client error.
export const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })

export const problem = (status: number, error: string) => json({ error }, status)

/** 503 with the store's message, logged as `what` ("An admin request", "A dashboard request") failing. */
export const storeFailure = (what: string) => (error: OutboxStore.OutboxStoreError) =>
  Effect.as(Effect.logError(`${what} failed in the store`, error), problem(503, error.message))

/** Parses the query string with `parse` (400 naming a bad parameter), then answers with `use` (503 on a store failure). */
export const withParsed = (what: string) =>
<Q, R>(
  parse: (params: Params) => Either.Either<Q, InvalidQuery>,
  use: (query: Q) => Effect.Effect<HttpServerResponse.HttpServerResponse, OutboxStore.OutboxStoreError, R>
) =>
  Effect.flatMap(HttpServerRequest.ParsedSearchParams, (params) =>
    Either.match(parse(params), {
      onLeft: (error) => Effect.succeed(problem(400, error.message)),
      onRight: use
    })).pipe(Effect.catchTag("OutboxStoreError", storeFailure(what)))
