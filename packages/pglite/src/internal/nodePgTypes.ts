/**
 * Value parsers and parameter serialisers that make PGlite return and accept
 * what node-pg (`pg` 8, behind `@effect/sql-pg`) does, so the same code sees the
 * same row shapes on the embedded database and on a Postgres server.
 *
 * @internal
 */
import { types, type ParserOptions, type SerializerOptions } from "@electric-sql/pglite"

// node-pg returns int8 (bigint, bigserial, count(*)) as a string, because a JS
// number loses precision above 2^53; PGlite returns a number or a BigInt
// depending on the size. int8[] follows, as PGlite's array parser looks the
// element parser up at parse time.
const int8 = (value: string): string => value

// node-pg reads a `date` as local midnight; PGlite's `new Date("YYYY-MM-DD")`
// is UTC midnight. They differ whenever the process is not on UTC.
const DATE = /^(\d{4,})-(\d{2})-(\d{2})$/
const date = (value: string): Date | number => {
  const match = DATE.exec(value)
  if (match === null) {
    return value === "infinity" ? Infinity : value === "-infinity" ? -Infinity : new Date(value)
  }
  const [, year, month, day] = match
  return new Date(Number(year), Number(month) - 1, Number(day))
}

// A parameter Postgres types as text: node-pg sends a plain object as JSON and a
// JS array as a Postgres array literal, where PGlite would send `[object Object]`.
const TEXT_ARRAY = 1009
const text = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return types.arraySerializer(value, text, TEXT_ARRAY)
  if (typeof value === "object" && value !== null) return JSON.stringify(value)
  return String(value)
}

/** Parsers applied to every result, so rows match node-pg's. */
export const parsers: ParserOptions = {
  [types.INT8]: int8,
  [types.DATE]: date
}

/** Serialisers applied to every parameter, so bound values match node-pg's. */
export const serializers: SerializerOptions = {
  [types.TEXT]: text,
  [types.VARCHAR]: text,
  [types.BPCHAR]: text
}
