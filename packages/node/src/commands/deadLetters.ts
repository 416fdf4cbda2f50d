/**
 * The `outbox dead-letters` command: list, parked, replay and purge.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { type DeadLetter, OutboxStore } from "@effect-outbox/core"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as DeadLetterQuery from "../internal/deadLetterQuery.js"
import { databaseFlags, withSettingsFrom } from "./flags.js"
import { withStore } from "./withStore.js"

/**
 * A bad filter flag; `message` is the one line to print.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidFilter extends Data.TaggedError("InvalidFilter")<{ readonly flag: string; readonly detail: string }> {
  override get message() {
    return `Invalid --${this.flag}: ${this.detail}`
  }
}

const filterFlags = {
  topic: Options.text("topic").pipe(Options.withDescription("Only this topic."), Options.optional),
  reason: Options.text("reason").pipe(
    Options.withDescription("Only this reason: Exhausted, Rejected, Undecodable or Malformed."),
    Options.optional
  ),
  ids: Options.text("ids").pipe(Options.withDescription("Only these message ids, comma-separated."), Options.optional),
  olderThan: Options.text("older-than").pipe(
    Options.withDescription("Only letters that died at least this long ago: 90 (seconds), 15m, 2h, 7d."),
    Options.optional
  ),
  limit: Options.text("limit").pipe(Options.withDescription("At most this many, oldest first."), Options.optional)
}

const flagNames: Record<string, string> = { olderThan: "older-than" }

type FilterFlags = { readonly [K in keyof typeof filterFlags]: Option.Option<string> }

const parseFilter = (flags: FilterFlags, extra: Record<string, string> = {}) => {
  const params: Record<string, string> = { ...extra }
  for (const [name, value] of Object.entries(flags)) if (Option.isSome(value)) params[name] = value.value
  return Either.match(DeadLetterQuery.parse(params, ["all"]), {
    onLeft: (error) =>
      Effect.fail(new InvalidFilter({ flag: flagNames[error.parameter] ?? error.parameter, detail: error.detail })),
    onRight: (query) => Effect.succeed(query.filter)
  })
}

const describe = (letter: DeadLetter.DeadLetter) =>
  JSON.stringify({
    id: letter.id,
    topic: letter.topic,
    key: letter.key,
    reason: letter.reason,
    attempts: letter.attempts,
    lastError: letter.lastError,
    deadAt: letter.deadAt.toISOString(),
    parksKey: letter.parksKey,
    payload: letter.payload
  })

const describeParked = (parked: DeadLetter.ParkedKey) =>
  JSON.stringify({
    key: parked.key,
    messageId: parked.messageId,
    topic: parked.topic,
    reason: parked.reason,
    lastError: parked.lastError,
    since: parked.since.toISOString()
  })

const list = Command.make("list", { database: databaseFlags, ...filterFlags }, ({ database, ...filter }) =>
  Effect.gen(function*() {
    const store = yield* OutboxStore.OutboxStore
    const letters = yield* store.deadLetters.list(yield* parseFilter(filter))
    for (const letter of letters) yield* Console.log(describe(letter))
    yield* Console.error(`${letters.length} dead letter${letters.length === 1 ? "" : "s"}`)
  }).pipe(withStore({ migrate: true }), withSettingsFrom(database))).pipe(
    Command.withDescription("List dead letters (one JSON object per line), oldest first.")
  )

const parked = Command.make(
  "parked",
  {
    database: databaseFlags,
    limit: Options.text("limit").pipe(Options.withDescription("At most this many, oldest first."), Options.optional)
  },
  ({ database, limit }) =>
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      const query = yield* Either.match(DeadLetterQuery.parseParkedKeys(Option.isSome(limit) ? { limit: limit.value } : {}), {
        onLeft: (error) => Effect.fail(new InvalidFilter({ flag: error.parameter, detail: error.detail })),
        onRight: Effect.succeed
      })
      const keys = yield* store.deadLetters.parkedKeys(query)
      for (const key of keys) yield* Console.log(describeParked(key))
      yield* Console.error(`${keys.length} parked key${keys.length === 1 ? "" : "s"}`)
    }).pipe(withStore({ migrate: true }), withSettingsFrom(database))
).pipe(
  Command.withDescription(
    "List the keys that ordered delivery holds back behind a dead letter (one JSON object per line), oldest first. Replay or purge the letter (--ids <messageId>) to resume its key."
  )
)

const changing = (verb: "replay" | "purge", description: string) =>
  Command.make(
    verb,
    {
      database: databaseFlags,
      ...filterFlags,
      dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Show what would change, change nothing.")),
      all: Options.boolean("all").pipe(Options.withDescription("Required to act on every dead letter (no filter)."))
    },
    ({ all, database, dryRun, ...filter }) =>
      Effect.gen(function*() {
        // Usage first: a missing filter is refused before the database is opened.
        const selected = yield* parseFilter(filter)
        if (!all && !DeadLetterQuery.isNarrowed(selected)) {
          return yield* new InvalidFilter({
            flag: "all",
            detail: `no filter given: pass --all to ${verb} every dead letter, or narrow with --topic, --reason, --ids, --older-than or --limit`
          })
        }
        return yield* Effect.gen(function*() {
          const store = yield* OutboxStore.OutboxStore
          if (dryRun) {
          const letters = yield* store.deadLetters.list(selected)
          for (const letter of letters) yield* Console.log(describe(letter))
          return yield* Console.log(`Would ${verb} ${letters.length} dead letter${letters.length === 1 ? "" : "s"} (dry run).`)
        }
          const count = yield* (verb === "replay" ? store.deadLetters.replay(selected) : store.deadLetters.purge(selected))
          yield* Console.log(`${verb === "replay" ? "Replayed" : "Purged"} ${count} dead letter${count === 1 ? "" : "s"}.`)
        }).pipe(withStore({ migrate: true }))
      }).pipe(withSettingsFrom(database))
  ).pipe(Command.withDescription(description))

/**
 * `outbox dead-letters list|parked|replay|purge`.
 *
 * @category cli
 * @since 0.1.0
 */
export const deadLetters = Command.make("dead-letters").pipe(
  Command.withDescription("Inspect and act on dead letters."),
  Command.withSubcommands([
    list,
    parked,
    changing("replay", "Move matching dead letters back to pending (attempts reset); prints how many."),
    changing("purge", "Delete matching dead letters for good; prints how many.")
  ])
)
