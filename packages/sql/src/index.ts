/**
 * @effect-outbox/sql: the Postgres outbox store on @effect/sql.
 *
 * @since 0.1.0
 */
export * as AdvisoryLock from "./AdvisoryLock.js"
export * as Inbox from "./Inbox.js"
export * as Migrations from "./Migrations.js"
export * as Notifications from "./Notifications.js"
export * as SqlOutboxStore from "./SqlOutboxStore.js"
export * as OutboxInsight from "./OutboxInsight.js"
export * as RelayRegistry from "./RelayRegistry.js"
