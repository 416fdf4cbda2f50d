import { DeadLetter, DurationText } from "@effect-outbox/core"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/** A query parameter is unusable: `parameter` names it, `detail` says what is expected. */
export class InvalidQuery extends Data.TaggedError("InvalidQuery")<{
  readonly parameter: string
  readonly detail: string
}> {
  override get message() {
    return `Invalid query parameter "${this.parameter}": ${this.detail}`
  }
}

/** Query parameters as the router parses them: repeated ones come as arrays. */
export type Params = Readonly<Record<string, string | ReadonlyArray<string>>>

/** A parsed dead-letter query. `dryRun` and `all` are only accepted where allowed. */
export interface Query {
  readonly filter: DeadLetter.Filter
  readonly dryRun: boolean
  readonly all: boolean
}

const filterNames = ["topic", "reason", "ids", "olderThan", "limit"] as const

const single = (params: Params, name: string): Either.Either<string | undefined, InvalidQuery> => {
  const value = params[name]
  if (value === undefined || typeof value === "string") return Either.right(value)
  return Either.left(new InvalidQuery({ parameter: name, detail: "given more than once; give it once" }))
}

const flag = (params: Params, name: string): Either.Either<boolean, InvalidQuery> =>
  Either.flatMap(single(params, name), (value) => {
    if (value === undefined || value === "false" || value === "0") return Either.right(false)
    if (value === "" || value === "true" || value === "1") return Either.right(true)
    return Either.left(new InvalidQuery({ parameter: name, detail: "expected true or false" }))
  })

/** Refuses a parameter not in `allowed`: a misspelt filter must not widen what a request selects. */
export const refuseUnknown = (params: Params, allowed: ReadonlyArray<string>): Either.Either<void, InvalidQuery> => {
  const unknown = Object.keys(params).find((name) => !allowed.includes(name))
  return unknown === undefined
    ? Either.void
    : Either.left(
      new InvalidQuery({ parameter: unknown, detail: `not a known parameter; expected one of ${allowed.join(", ")}` })
    )
}

const limitOf = (params: Params): Either.Either<number | undefined, InvalidQuery> =>
  Either.flatMap(single(params, "limit"), (text) => {
    if (text === undefined) return Either.right(undefined)
    return /^[1-9]\d{0,8}$/.test(text)
      ? Either.right(Number(text))
      : Either.left(new InvalidQuery({ parameter: "limit", detail: "expected a whole number of at least 1" }))
  })

/** Parses the query of a parked-keys listing: `limit` only. */
export const parseParkedKeys = (params: Params): Either.Either<{ readonly limit: number | undefined }, InvalidQuery> =>
  Either.gen(function*() {
    yield* refuseUnknown(params, ["limit"])
    return { limit: yield* limitOf(params) }
  })

/**
 * Parses `topic`, `reason`, `ids` (comma-separated or repeated), `olderThan`
 * and `limit`, plus the given `flags` (`dryRun`, `all`). Any other parameter
 * is refused: a misspelt filter must not widen a purge.
 */
export const parse = (
  params: Params,
  flags: ReadonlyArray<"dryRun" | "all"> = []
): Either.Either<Query, InvalidQuery> =>
  Either.gen(function*() {
    yield* refuseUnknown(params, [...filterNames, ...flags])
    const topic = yield* single(params, "topic")
    if (topic === "") return yield* Either.left(new InvalidQuery({ parameter: "topic", detail: "must not be empty" }))

    const reasonText = yield* single(params, "reason")
    const reason = DeadLetter.reasons.find((candidate) => candidate === reasonText)
    if (reasonText !== undefined && reason === undefined) {
      return yield* Either.left(
        new InvalidQuery({ parameter: "reason", detail: `expected one of ${DeadLetter.reasons.join(", ")}` })
      )
    }

    const rawIds = params["ids"]
    const ids = rawIds === undefined
      ? undefined
      : (typeof rawIds === "string" ? [rawIds] : rawIds).flatMap((part) => part.split(",")).map((id) => id.trim())
    if (ids !== undefined && (ids.length === 0 || ids.some((id) => id === ""))) {
      return yield* Either.left(new InvalidQuery({ parameter: "ids", detail: "expected comma-separated message ids" }))
    }

    const olderThanText = yield* single(params, "olderThan")
    const olderThan = olderThanText === undefined ? Option.none() : DurationText.parse(olderThanText)
    if (olderThanText !== undefined && Option.isNone(olderThan)) {
      return yield* Either.left(
        new InvalidQuery({ parameter: "olderThan", detail: `expected a duration like ${DurationText.examples}` })
      )
    }

    const limit = yield* limitOf(params)

    const filter: DeadLetter.Filter = {
      ...(topic === undefined ? {} : { topic }),
      ...(reason === undefined ? {} : { reason }),
      ...(ids === undefined ? {} : { ids }),
      ...(Option.isSome(olderThan) ? { olderThan: olderThan.value } : {}),
      ...(limit === undefined ? {} : { limit })
    }
    return { filter, dryRun: yield* flag(params, "dryRun"), all: yield* flag(params, "all") }
  })

/** Whether a filter selects anything less than every letter. */
export const isNarrowed = (filter: DeadLetter.Filter): boolean =>
  filter.topic !== undefined || filter.reason !== undefined || filter.ids !== undefined ||
  filter.olderThan !== undefined || filter.limit !== undefined
