import * as Effect from "effect/Effect"
import { OutboxStoreError } from "@effect-outbox/core/OutboxStore"
import { SqlError } from "@effect/sql/SqlError"

/** Translates driver errors into the store's error, once, naming the operation. */
export const refail = (operation: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | OutboxStoreError, R> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, SqlError> => error instanceof SqlError,
    (error) => Effect.fail(new OutboxStoreError({ operation, cause: error, detail: describe(error) }))
  ) as Effect.Effect<A, Exclude<E, SqlError> | OutboxStoreError, R> // catchIf cannot narrow E by itself

// The SqlError's own message is generic ("Failed to execute statement"); the
// driver's cause says what went wrong. Neither carries connection settings.
const describe = (error: SqlError): string => {
  const cause = error.cause
  const detail = cause instanceof Error ? cause.message : undefined
  return detail === undefined || detail === error.message ? error.message : `${error.message}: ${detail}`
}
