import { MemoryStore, OutboxStore } from "@effect-outbox/core"
import { RunnerLayers } from "@effect-outbox/node"
import * as StoreConnection from "@effect-outbox/node/StoreConnection"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Schedule } from "effect"

// What pg reports when the server goes away under a query (no SQLSTATE), and a
// migration the database rejects (a SQLSTATE that is not about the connection).
const connectionLost = Object.assign(new Error("Failed to execute statement"), {
  cause: new Error("Client has encountered a connection error and is not queryable")
})
const rejected = Object.assign(new Error("Failed to execute statement"), { cause: Object.assign(new Error("relation exists"), { code: "42P07" }) })

/** A store layer whose first `failures` builds die with `defect` (the Migrator fails with defects), then opens. */
const flakyStore = (failures: number, defect: unknown) => {
  let builds = 0
  return Layer.unwrapEffect(Effect.sync(() => builds++ < failures ? Layer.die(defect) : MemoryStore.layer))
}

const open = (layer: Layer.Layer<OutboxStore.OutboxStore, unknown>) =>
  Effect.gen(function*() {
    const connection = yield* StoreConnection.make
    const startup = RunnerLayers.connectionLossAsFailure(layer).pipe(
      Layer.mapError((error) => new RunnerLayers.StartupError({ reason: String(error) }))
    )
    return yield* StoreConnection.open(connection, startup, Schedule.recurs(5))
  })

// Found by `npm run chaos`: a relay started while Postgres restarted exited when
// the connection dropped during its migrations (a defect), instead of waiting.
describe("opening the store while the database restarts", () => {
  it.scoped("a connection lost during migrations is waited out: the store opens on a later try", () =>
    Effect.gen(function*() {
      const context = yield* open(flakyStore(2, connectionLost))
      const stats = yield* OutboxStore.OutboxStore.pipe(Effect.flatMap((store) => store.stats), Effect.provide(context))
      expect(stats.pending).toBe(0)
    }))

  it.scoped("a migration the database rejects still ends the start (not retried forever)", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(open(flakyStore(1, rejected)))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }))
})
