/**
 * The consumer's side: read a stream the sender writes with a consumer group,
 * handle each message at most once with `Inbox.once` (in the handler's
 * Postgres transaction), then acknowledge it. Type-checked with the tests,
 * and run against the real Redis and Postgres by test/Consumer.test.ts.
 */
// #region readme-redis-consumer
import { StreamEntry } from "@effect-outbox/redis"
import { Inbox, type Migrations } from "@effect-outbox/sql"
import { Effect, Either } from "effect"
import type { Redis } from "ioredis"

/** Where to read: the stream, the consumer group and this consumer's name in it. */
export interface Reader {
  readonly redis: Redis
  readonly stream: string
  readonly group: string
  readonly consumer: string
  /** Where the inbox table is (its schema and prefix), as given to `Migrations.run`. */
  readonly inbox?: Migrations.Options
}

/** Creates the group (reading from the stream's start) unless it exists. */
export const ensureGroup = ({ group, redis, stream }: Reader) =>
  Effect.promise(() =>
    redis.xgroup("CREATE", stream, group, "0", "MKSTREAM").catch((error: unknown) => {
      // BUSYGROUP: it exists already, which is what we want.
      if (!(error instanceof Error && error.message.startsWith("BUSYGROUP"))) throw error
    })
  )

/**
 * Reads up to `count` entries: first this consumer's own pending ones (read
 * before a crash, never acknowledged), then new ones. Each runs `handle` once
 * per message id, whatever Redis redelivers or the sender appended twice
 * (past its dedupe window): the id is recorded in the same transaction as the
 * handler's writes. An entry is acknowledged (XACK) only after that
 * transaction committed; a failing handler leaves it pending, to be read again.
 * Returns how many entries were read.
 */
export const consumeOnce = <E, R>(
  reader: Reader,
  handle: (entry: StreamEntry.StreamEntry) => Effect.Effect<void, E, R>,
  count = 100
) =>
  Effect.gen(function*() {
    const { consumer, group, redis, stream } = reader
    const read = (from: "0" | ">") =>
      Effect.promise(() => redis.xreadgroup("GROUP", group, consumer, "COUNT", count, "STREAMS", stream, from))
    const pending = (yield* read("0"))?.[0]?.[1] ?? []
    const entries = pending.length > 0 ? pending : ((yield* read(">"))?.[0]?.[1] ?? [])
    for (const [entryId, fields] of entries) {
      // `null`: trimmed away while pending. Nothing to handle.
      if (fields !== null) {
        const decoded = yield* Effect.either(StreamEntry.decode(fields))
        if (Either.isRight(decoded)) yield* Inbox.once(decoded.right.id, handle(decoded.right), reader.inbox)
        // An entry the sender did not write never decodes: park it on `<stream>:dead` with the reason.
        else yield* Effect.promise(() => redis.xadd(`${stream}:dead`, "*", "entry", entryId, "reason", decoded.left.message))
      }
      yield* Effect.promise(() => redis.xack(stream, group, entryId))
    }
    return entries.length
  })
// #endregion
