// The relay over the SQL store on the embedded database: the scenarios Postgres
// runs too (packages/sql/test/SqlOutboxStore.test.ts). Not here, because they
// need several server connections:
// - a relay whose connections are terminated with pg_terminate_backend (PGlite
//   has one in-process session, nothing to terminate);
// - advisory-lock hand-over between relays (on one session advisory locks are
//   re-entrant, so every relay would be leader: use Leadership.always on PGlite).
import { Outbox, Relay, Sender, Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { PgliteClient } from "@effect-outbox/pglite"
import { SqlOutboxStore } from "@effect-outbox/sql"
import * as SqlStoreScenarios from "@effect-outbox/test-support/SqlStoreScenarios"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { harness, sharedDatabase } from "./pglite.js"

SqlStoreScenarios.run("SqlOutboxStore on PGlite", harness(sharedDatabase()))

const OrderCreated = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

describe("SqlOutboxStore on PGlite with a data directory", () => {
  it.live("survives a restart: publish, close, reopen, drain", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "outbox-pglite-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const store = SqlOutboxStore.layer({}).pipe(Layer.provideMerge(PgliteClient.layer({ dataDir })))
      const ids = yield* Outbox.publishAll([1, 2, 3].map((n) => ({ topic: OrderCreated, payload: { n } }))).pipe(
        Effect.provide(Layer.provide(Outbox.layer, store))
      )
      // The first instance is closed (its scope ended); a new one opens the same directory.
      const recorder = yield* RecordingSender.make()
      const summary = yield* Relay.drainOnce().pipe(
        Effect.provideService(Sender.Sender, recorder.sender),
        Effect.provide(store)
      )
      expect(summary.sent).toBe(3)
      expect(yield* RecordingSender.sentIds.pipe(Effect.provideService(RecordingSender.RecordingSender, recorder))).toEqual(ids)
    }).pipe(Effect.scoped), 60_000)
})

