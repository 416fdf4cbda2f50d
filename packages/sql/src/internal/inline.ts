/**
 * A compiled statement as one text with its values written in, so it can
 * share a round trip with other statements: without parameters a driver uses
 * Postgres's simple query protocol, which runs several statements in one
 * message (the transactional claim sends `BEGIN` with its `DELETE`).
 *
 * Only for statements this package writes, with values it controls or has
 * checked (numbers, ids, tokens, topic names); strings are written as
 * escaped `E'…'` literals, so a quote or backslash in one cannot end it.
 */
import type * as Statement from "@effect/sql/Statement"

const literal = (value: unknown): string => {
  if (value === null || value === undefined) return "NULL"
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE"
  if (typeof value === "number" || typeof value === "bigint") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError(`cannot inline the number ${value}`)
    // In parentheses, so a negative value after a minus sign is not a comment.
    return `(${value.toString()})`
  }
  if (typeof value === "string") return `E'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`
  if (value instanceof Date) return literal(value.toISOString())
  if (Array.isArray(value)) return `ARRAY[${value.map(literal).join(",")}]`
  throw new TypeError(`cannot inline a value of type ${typeof value}`)
}

/** The statement's text with each `$n` replaced by its value as a literal. */
export const inline = (statement: Statement.Statement<unknown>): string => {
  const [text, params] = statement.compile(true)
  return text.replace(/\$(\d+)/g, (placeholder, index: string) => {
    const n = Number(index)
    if (n < 1 || n > params.length) throw new TypeError(`no value for ${placeholder}`)
    return literal(params[n - 1])
  })
}
