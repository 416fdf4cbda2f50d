/**
 * Test helpers for apps and stores: the store contract suite every store must
 * pass, a scriptable recording sender, waiting for a store to drain, and a
 * sender wrapper that checks ordered delivery.
 *
 * `StoreContract` registers vitest tests, so this entry loads vitest: outside a
 * vitest run, import `@effect-outbox/core/testing/RecordingSender` or
 * `@effect-outbox/core/testing/Drain` directly.
 *
 * @since 0.1.0
 */

/**
 * The contract of a store's folded acks (`OutboxStore.ackAndClaim`), as vitest tests.
 *
 * @category modules
 * @since 0.1.0
 */
export * as AckAndClaimContract from "./AckAndClaimContract.js"

/**
 * Waiting for the relay to finish, without sleeps in tests.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Drain from "./Drain.js"

/**
 * Checks ordered delivery from the receiving side.
 *
 * @category modules
 * @since 0.1.0
 */
export * as OrderCheck from "./OrderCheck.js"

/**
 * A sender for tests: records every message and answers as a script says.
 *
 * @category modules
 * @since 0.1.0
 */
export * as RecordingSender from "./RecordingSender.js"

/**
 * The store contract suite: every behaviour an `OutboxStore` must have, as vitest tests.
 *
 * @category modules
 * @since 0.1.0
 */
export * as StoreContract from "./StoreContract.js"

/**
 * The contract of a store's transactional claim mode (`OutboxStore.transactional`), as vitest tests.
 *
 * @category modules
 * @since 0.1.0
 */
export * as TransactionalContract from "./TransactionalContract.js"
