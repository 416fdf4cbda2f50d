/**
 * The consumer's half of exactly-once processing over at-least-once delivery:
 * `Inbox.once(messageId, effect)` runs `effect` at most once per message id,
 * in one transaction with recording the id. A redelivered message finds its
 * id recorded and is skipped; if `effect` fails, the transaction rolls back and
 * a redelivery runs it again.
 *
 * @example
 * import type { Effect } from "effect"
 * import type { OutboxMessage } from "@effect-outbox/core/Message"
 * import { Inbox } from "@effect-outbox/sql"
 *
 * declare const applyPayment: (payload: unknown) => Effect.Effect<void>
 *
 * const handle = (message: OutboxMessage) =>
 *   Inbox.once(message.id, applyPayment(message.payload))
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { OutboxStoreError } from "@effect-outbox/core/OutboxStore"
import { refail } from "./internal/errors.js"
import * as Tables from "./internal/tables.js"
import type * as Migrations from "./Migrations.js"

/**
 * Runs `effect` unless `messageId` was processed before; `Some(result)` when
 * it ran, `None` when it was a duplicate. Concurrent duplicates wait for the
 * first to commit (or roll back) and then skip (or run).
 *
 * @category combinators
 * @since 0.1.0
 */
export const once = <A, E, R>(
  messageId: string,
  effect: Effect.Effect<A, E, R>,
  options: Migrations.Options = {}
): Effect.Effect<Option.Option<A>, E | OutboxStoreError | SqlError, R | SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* Tables.resolve(options)
    return yield* sql.withTransaction(
      Effect.gen(function*() {
        const recorded = yield* sql<{ message_id: string }>`
          INSERT INTO ${sql(tables.inbox)} (message_id) VALUES (${messageId})
          ON CONFLICT (message_id) DO NOTHING RETURNING message_id`.withoutTransform.pipe(refail("inbox"))
        if (recorded.length === 0) return Option.none()
        return Option.some(yield* effect)
      })
    )
  })
