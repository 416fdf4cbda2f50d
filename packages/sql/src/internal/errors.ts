import * as Effect from "effect/Effect"
import { OutboxStoreError } from "@effect-outbox/core/OutboxStore"
import { SqlError } from "@effect/sql/SqlError"

/** Translates driver errors into the store's error, once, naming the operation. */
export const refail = (operation: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | OutboxStoreError, R> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, SqlError> => error instanceof SqlError,
    (error) => Effect.fail(new OutboxStoreError({ operation, cause: error, detail: describe(error), kind: kindOf(error) }))
  ) as Effect.Effect<A, Exclude<E, SqlError> | OutboxStoreError, R> // catchIf cannot narrow E by itself

// The SqlError's own message is generic ("Failed to execute statement"); the
// driver's cause says what went wrong. Neither carries connection settings.
const describe = (error: SqlError): string => {
  const cause = error.cause
  const detail = cause instanceof Error ? cause.message : undefined
  return detail === undefined || detail === error.message ? error.message : `${error.message}: ${detail}`
}

// A SQLSTATE says the server answered: the statement failed, unless its class
// is a connection, shutdown or resource one (the store is then out of reach).
// No SQLSTATE (a refused socket, a timeout) means it was not reached.
const unreachableClasses = ["08", "53", "57"]

const kindOf = (error: SqlError): "Unreachable" | "Statement" => {
  const cause: unknown = error.cause
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return "Unreachable"
  return unreachableClasses.includes(code.slice(0, 2)) ? "Unreachable" : "Statement"
}
