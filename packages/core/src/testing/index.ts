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
export * as AckAndClaimContract from "./AckAndClaimContract.js"
export * as Drain from "./Drain.js"
export * as OrderCheck from "./OrderCheck.js"
export * as RecordingSender from "./RecordingSender.js"
export * as StoreContract from "./StoreContract.js"
export * as TransactionalContract from "./TransactionalContract.js"
