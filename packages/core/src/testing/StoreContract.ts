/**
 * The store contract suite: every behaviour an `OutboxStore` must have, as
 * vitest tests. Every store (memory, Postgres, PGlite) runs the same suite in
 * one line; each test builds the store layer afresh, so a SQL store can give
 * each test its own schema.
 *
 * @example
 * import { MemoryStore } from "@effect-outbox/core"
 * import { StoreContract } from "@effect-outbox/core/testing"
 *
 * StoreContract.run("MemoryStore", { layer: MemoryStore.layer, clock: "test" })
 *
 * @since 0.1.0
 */
import { describe, expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Claims from "./storeContract/Claims.js"
import * as Completions from "./storeContract/Completions.js"
import * as DeadLetters from "./storeContract/DeadLetters.js"
import * as Harness from "./storeContract/Harness.js"
import * as Leases from "./storeContract/Leases.js"
import * as Ordering from "./storeContract/Ordering.js"
import * as Signals from "./storeContract/Signals.js"
import * as AckAndClaimContract from "./AckAndClaimContract.js"
import * as TransactionalContract from "./TransactionalContract.js"

/**
 * How to run the suite against one store.
 *
 * @category testing
 * @since 0.1.0
 */
export type Options<E> = Harness.Options<E>

/**
 * Registers the contract tests for a store under `describe(name)`.
 *
 * @category testing
 * @since 0.1.0
 */
export const run = <E>(name: string, options: Options<E>): void => {
  const harness = Harness.make(options)

  if (options.transactional === true) TransactionalContract.run(name, options)
  if (options.ackAndClaim === true) AckAndClaimContract.run(name, options)

  describe(`${name} (OutboxStore contract)`, () => {
    if (options.transactional !== true) {
      harness.test("declares no transactional claim mode, so a relay asking for it refuses to start", Effect.gen(function*() {
        expect((yield* harness.store).transactional).toBeUndefined()
      }))
    }
    if (options.ackAndClaim !== true) {
      harness.test("declares no folded acks, so a relay completes each batch on its own", Effect.gen(function*() {
        expect((yield* harness.store).ackAndClaim).toBeUndefined()
      }))
    }
    Claims.register(harness)
    Leases.register(harness)
    Completions.register(harness)
    DeadLetters.register(harness)
    Ordering.register(harness)
    Signals.register(harness)
  })
}
