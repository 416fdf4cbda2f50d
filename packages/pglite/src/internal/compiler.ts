/**
 * The Postgres statement compiler: `$n` placeholders, `"` identifier escaping,
 * `sql.insert` / `sql.update` / `sql.updateValues` / `sql.in`, and JSON fragments.
 * It is the same compiler `@effect/sql-pg` builds, written against
 * `@effect/sql/Statement` alone because importing `@effect/sql-pg` loads `pg`.
 *
 * @internal
 */
import * as Statement from "@effect/sql/Statement"

/**
 * A JSON value bound as one parameter. The `kind` is the one `@effect/sql-pg`
 * uses, so a fragment built by either driver's `json` compiles with the other.
 */
export interface PgJson extends Statement.Custom<"PgJson", unknown> {}

/** Builds a JSON fragment. */
export const PgJson = Statement.custom<PgJson>("PgJson")

const escape = Statement.defaultEscape("\"")

/** The Postgres compiler, with optional query-name and JSON transforms (as `PgClient.makeCompiler`). */
export const makeCompiler = (
  transform?: ((_: string) => string) | undefined,
  transformJson = true
): Statement.Compiler => {
  const transformValue = transformJson && transform !== undefined
    ? Statement.defaultTransforms(transform).value
    : undefined

  return Statement.makeCompiler<PgJson>({
    dialect: "pg",
    placeholder: (index) => `$${index}`,
    onIdentifier: transform === undefined
      ? escape
      : (value, withoutTransform) => escape(withoutTransform ? value : transform(value)),
    onRecordUpdate: (placeholders, valueAlias, valueColumns, values, returning) => [
      `(values ${placeholders}) AS ${valueAlias}${valueColumns}${
        returning === undefined ? "" : ` RETURNING ${returning[0]}`
      }`,
      returning === undefined ? values.flat() : values.flat().concat(returning[1])
    ],
    onCustom: (type, placeholder, withoutTransform) => [
      placeholder(undefined),
      [withoutTransform || transformValue === undefined ? type.i0 : transformValue(type.i0)]
    ]
  })
}
