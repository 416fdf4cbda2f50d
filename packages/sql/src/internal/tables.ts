import * as Effect from "effect/Effect"
import { OutboxStoreError } from "@effect-outbox/core/OutboxStore"

/** The names one outbox lives under: several outboxes can share a database by schema or prefix. */
export interface Tables {
  readonly schema: string
  readonly prefix: string
  readonly outbox: string
  readonly deadLetters: string
  readonly inbox: string
  readonly migrations: string
  /** The relays' heartbeats (who drains this outbox, with what settings, last seen when). */
  readonly relays: string
  /** The NOTIFY channel publishers signal on commit. */
  readonly channel: string
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/

/** Resolves and validates the names; a bad one is refused with what is allowed. */
export const resolve = (options: {
  readonly schema?: string | undefined
  readonly tablePrefix?: string | undefined
}): Effect.Effect<Tables, OutboxStoreError> => {
  const schema = options.schema ?? "public"
  const prefix = options.tablePrefix ?? "outbox"
  for (const [name, value] of [["schema", schema], ["tablePrefix", prefix]] as const) {
    if (!identifier.test(value)) {
      return Effect.fail(
        new OutboxStoreError({
          operation: "configure",
          detail: `${name} "${value}" is not a plain SQL identifier: use letters, digits and underscores (at most 48), not starting with a digit`
        })
      )
    }
  }
  return Effect.succeed({
    schema,
    prefix,
    outbox: `${schema}.${prefix}`,
    deadLetters: `${schema}.${prefix}_dead_letters`,
    inbox: `${schema}.${prefix}_inbox`,
    migrations: `${schema}.${prefix}_migrations`,
    relays: `${schema}.${prefix}_relays`,
    channel: `${schema}.${prefix}`
  })
}
