/**
 * The one Schema a store turns a stored row into a message with. Rows can be
 * written by anyone with access to the table (a migration, a hand-written
 * INSERT, another program), so a store never trusts them: every row is decoded
 * before the relay or a sender sees it, and a row that does not decode is
 * handed to the relay as `Malformed` (with the field named) instead of as a
 * message, to be dead-lettered alone while its batch mates go on.
 *
 * What a row must hold:
 * - `topic`: a non-empty string without control characters;
 * - `key`: null, or a string without control characters;
 * - `headers`: null (no headers) or an object of string values without control
 *   characters (a CR/LF in a header value could split a header line);
 * - `attempts` (failed sends so far) and `lost_claims` (claims whose lease
 *   expired): whole numbers, at least 0;
 * - `created_at` and `available_at`: valid dates (not `infinity`).
 * The payload is any JSON value: its shape is the topic schema's business
 * (`Relay` `topics`, dead-lettered `Undecodable`).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Headers, MessageId, OutboxMessage } from "./Message.js"

// C0 controls and DEL: never valid in a topic, key or header value.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f]/

/**
 * Whether `text` holds a control character (CR, LF, NUL, …).
 *
 * @category utils
 * @since 0.1.0
 */
export const hasControlCharacter = (text: string): boolean => controlCharacter.test(text)

const Text = Schema.String.pipe(
  Schema.filter((text) => !hasControlCharacter(text) || "must not contain control characters (CR, LF, NUL, …)")
)

const Count = Schema.Number.pipe(
  Schema.filter((n) => (Number.isSafeInteger(n) && n >= 0) || "expected a whole number of at least 0")
)

const ValidDate = Schema.declare(
  (value: unknown): value is Date => value instanceof Date && !Number.isNaN(value.getTime()),
  { identifier: "ValidDate", message: (issue) => `expected a valid date, not ${String(issue.actual)}` }
)

/**
 * A stored row as the Postgres store reads it (snake_case columns; `id` as the driver returns a bigint).
 *
 * @category models
 * @since 0.1.0
 */
export const Row = Schema.Struct({
  topic: Text.pipe(Schema.filter((topic) => topic.length > 0 || "expected a non-empty topic")),
  key: Schema.NullOr(Text),
  payload: Schema.Unknown,
  headers: Schema.NullOr(Schema.Record({ key: Schema.String, value: Text })),
  attempts: Count,
  lost_claims: Count,
  created_at: ValidDate,
  available_at: ValidDate
})

/**
 * What `Row` checks.
 *
 * @category models
 * @since 0.1.0
 */
export type Row = typeof Row.Type

/**
 * A row that did not decode: its id and what was wrong with it, naming the field.
 *
 * @category models
 * @since 0.1.0
 */
export interface Malformed {
  readonly id: MessageId
  /** The field, then the problem: `headers.traceparent: Expected string, actual 123`. */
  readonly error: string
  /** The row's topic and key when they are strings (so ordered delivery can park the key). */
  readonly topic?: string | undefined
  readonly key?: string | null | undefined
}

const stringOr = <A>(value: unknown, otherwise: A): string | A => (typeof value === "string" ? value : otherwise)

const describeIssues = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    field: issue.path.length === 0 ? "row" : issue.path.map(String).join("."),
    message: issue.message
  }))
  // A nullable column that is wrong reports its value's problem and "Expected null": keep the first.
  const kept = issues.filter((issue) => {
    const column = issue.field.split(".")[0]
    return !issue.message.startsWith("Expected null,") ||
      !issues.some((other) => other !== issue && other.field.split(".")[0] === column)
  })
  return kept.map((issue) => `${issue.field}: ${issue.message}`).join("; ")
}

const decodeRow = Schema.decodeUnknownEither(Row, { errors: "all", onExcessProperty: "ignore" })

// The hot path: the checks `Row` makes, written out, so a valid row (nearly every
// row) costs a few property reads instead of a Schema walk (~0.1 µs against ~10 µs
// a row: a tenth of the relay's per-message budget). `Row` stays the definition:
// only a row this guard does not pass is decoded by it, for its verdict and
// message, and a test checks that the two agree on valid and corrupted rows.
const isText = (value: unknown): value is string => typeof value === "string" && !controlCharacter.test(value)
const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0
const isDate = (value: unknown): value is Date => value instanceof Date && !Number.isNaN(value.getTime())
const isHeaders = (value: unknown): value is Headers | null => {
  if (value === null) return true
  if (typeof value !== "object" || Array.isArray(value)) return false
  for (const key in value) {
    if (!isText((value as Record<string, unknown>)[key])) return false
  }
  return true
}

/**
 * Whether `raw` surely decodes with `Row` (a fast guard; `false` means "ask the Schema").
 *
 * @category utils
 * @since 0.1.0
 */
export const isValid = (raw: unknown): raw is Row => {
  if (typeof raw !== "object" || raw === null) return false
  const row = raw as Record<string, unknown>
  return isText(row.topic) && row.topic !== "" && (row.key === null || isText(row.key)) &&
    isHeaders(row.headers) && isCount(row.attempts) && isCount(row.lost_claims) &&
    isDate(row.created_at) && isDate(row.available_at) && "payload" in row
}

const toMessage = (id: MessageId, row: Row): OutboxMessage => ({
  id,
  topic: row.topic,
  key: row.key,
  payload: row.payload,
  headers: row.headers ?? {},
  attempts: Math.min(row.attempts, maxCount - 1) + 1,
  lostClaims: row.lost_claims,
  createdAt: row.created_at,
  availableAt: row.available_at
})

/**
 * Decodes a stored row into the message the relay hands to a sender, or says
 * why it cannot. `attempts` of the message is the stored failed sends plus one
 * (this delivery's number), saturating rather than overflowing.
 *
 * @category utils
 * @since 0.1.0
 */
export const decode = (id: MessageId, raw: unknown): Either.Either<OutboxMessage, Malformed> =>
  isValid(raw)
    ? Either.right(toMessage(id, raw))
    : Either.match(decodeRow(raw), {
      onLeft: (error) => {
        const row: Record<string, unknown> = typeof raw === "object" && raw !== null ? { ...raw } : {}
        return Either.left({
          id,
          error: `the stored row does not decode: ${describeIssues(error)}`,
          topic: stringOr(row.topic, undefined),
          key: row.key === null ? null : stringOr(row.key, undefined)
        })
      },
      onRight: (row) => Either.right(toMessage(id, row))
    })

/**
 * The largest count a store keeps (a Postgres `integer`): counters stop there instead of overflowing.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxCount = 2_147_483_647
