/**
 * The fields of a stream entry the Redis sender appends, and their decoding
 * for consumers (`XREADGROUP` / `XRANGE` replies give them as a flat
 * `[field, value, field, value, …]` list).
 *
 * | field | value |
 * | --- | --- |
 * | `id` | the outbox message id: the idempotency key consumers dedupe on |
 * | `topic` | the message's topic |
 * | `key` | the message's key (absent when it has none) |
 * | `attempt` | the delivery attempt, from 1 |
 * | `createdAt` | when it was published, ISO 8601 |
 * | `headers` | the message's headers as a JSON object (`traceparent`, …) |
 * | `payload` | the payload as JSON |
 *
 * @example
 * import { Effect } from "effect"
 * import { StreamEntry } from "@effect-outbox/redis"
 *
 * // One entry of an XREADGROUP reply: [entryId, [field, value, …]]
 * const handle = ([, fields]: [string, Array<string>]) =>
 *   Effect.flatMap(StreamEntry.decode(fields), (entry) => Effect.log(entry.topic, entry.payload))
 *
 * @since 0.1.0
 */
import type { OutboxMessage } from "@effect-outbox/core/Message"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/**
 * The field names, in the order they are written.
 *
 * @category constants
 * @since 0.1.0
 */
export const Fields = {
  id: "id",
  topic: "topic",
  key: "key",
  attempt: "attempt",
  createdAt: "createdAt",
  headers: "headers",
  payload: "payload"
} as const

/**
 * A decoded entry, as a consumer handles it.
 *
 * @category models
 * @since 0.1.0
 */
export interface StreamEntry {
  readonly id: string
  readonly topic: string
  readonly key: string | null
  readonly attempt: number
  readonly createdAt: Date
  readonly headers: Readonly<Record<string, string>>
  readonly payload: unknown
}

/**
 * An entry that is not one the sender wrote (a field missing, or not JSON where JSON is expected).
 *
 * @category errors
 * @since 0.1.0
 */
export class MalformedEntry extends Data.TaggedError("MalformedEntry")<{ readonly problem: string }> {
  override get message() {
    return `Not an outbox stream entry: ${this.problem}`
  }
}

/**
 * The entry's field/value pairs for `XADD`, flat.
 *
 * @category utils
 * @since 0.1.0
 */
export const fields = (message: OutboxMessage): ReadonlyArray<string> => [
  Fields.id,
  message.id,
  Fields.topic,
  message.topic,
  ...(message.key === null ? [] : [Fields.key, message.key]),
  Fields.attempt,
  String(message.attempts),
  Fields.createdAt,
  message.createdAt.toISOString(),
  Fields.headers,
  JSON.stringify(message.headers),
  Fields.payload,
  JSON.stringify(message.payload) ?? "null"
]

const parseJson = (field: string, text: string) =>
  Effect.try({
    try: (): unknown => JSON.parse(text),
    catch: () => new MalformedEntry({ problem: `field "${field}" is not JSON` })
  })

const isStringRecord = (value: unknown): value is Record<string, string> =>
  typeof value === "object" && value !== null && !Array.isArray(value) &&
  Object.values(value).every((item) => typeof item === "string")

/**
 * Decodes an entry's flat field/value list, as Redis returns it.
 *
 * @category utils
 * @since 0.1.0
 */
export const decode = (flat: ReadonlyArray<string>): Effect.Effect<StreamEntry, MalformedEntry> =>
  Effect.gen(function*() {
    const values = new Map<string, string>()
    for (let index = 0; index + 1 < flat.length; index += 2) values.set(flat[index] ?? "", flat[index + 1] ?? "")
    const required = (field: string): Effect.Effect<string, MalformedEntry> => {
      const value = values.get(field)
      return value === undefined
        ? Effect.fail(new MalformedEntry({ problem: `field "${field}" is missing` }))
        : Effect.succeed(value)
    }
    const headers = yield* parseJson(Fields.headers, yield* required(Fields.headers))
    if (!isStringRecord(headers)) return yield* new MalformedEntry({ problem: `field "headers" is not an object of strings` })
    const attempt = Number(yield* required(Fields.attempt))
    const createdAt = new Date(yield* required(Fields.createdAt))
    if (!Number.isInteger(attempt) || Number.isNaN(createdAt.getTime())) {
      return yield* new MalformedEntry({ problem: `field "attempt" or "createdAt" is not valid` })
    }
    return {
      id: yield* required(Fields.id),
      topic: yield* required(Fields.topic),
      key: values.get(Fields.key) ?? null,
      attempt,
      createdAt,
      headers,
      payload: yield* parseJson(Fields.payload, yield* required(Fields.payload))
    }
  })
