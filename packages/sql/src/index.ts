/**
 * @effect-outbox/sql: the Postgres outbox store on @effect/sql.
 *
 * @since 0.1.0
 */

/**
 * Leadership through a Postgres advisory lock, so only one relay drains the outbox.
 *
 * @category modules
 * @since 0.1.0
 */
export * as AdvisoryLock from "./AdvisoryLock.js"

/**
 * The consumer's half of exactly-once processing over at-least-once delivery.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Inbox from "./Inbox.js"

/**
 * The outbox's tables, created by `@effect/sql`'s Migrator under the configured schema and table prefix, with their own migrations table.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Migrations from "./Migrations.js"

/**
 * Wake-ups for relays through LISTEN/NOTIFY, a hint beside polling.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Notifications from "./Notifications.js"

/**
 * The Postgres outbox store on `@effect/sql`'s `SqlClient`.
 *
 * @category modules
 * @since 0.1.0
 */
export * as SqlOutboxStore from "./SqlOutboxStore.js"

/**
 * Read-side queries for people looking at an outbox (the runner's dashboard).
 *
 * @category modules
 * @since 0.1.0
 */
export * as OutboxInsight from "./OutboxInsight.js"

/**
 * Relays announce themselves: one row per relay process, so people can see who drains an outbox.
 *
 * @category modules
 * @since 0.1.0
 */
export * as RelayRegistry from "./RelayRegistry.js"
