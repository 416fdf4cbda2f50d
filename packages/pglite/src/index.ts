/**
 * @effect-outbox/pglite: an `@effect/sql` driver for PGlite, the embedded Postgres.
 *
 * @since 0.1.0
 */

/**
 * An `@effect/sql` driver for PGlite, the embedded (WebAssembly) Postgres.
 *
 * @category modules
 * @since 0.1.0
 */
export * as PgliteClient from "./PgliteClient.js"
