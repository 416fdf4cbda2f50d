/** Every kind of entry point an app imports: package roots, module subpaths, core's testing helpers. */
import { MemoryStore, type OutboxStore } from "@effect-outbox/core"
import * as Relay from "@effect-outbox/core/Relay"
import { Drain, RecordingSender } from "@effect-outbox/core/testing"
import * as SqlOutboxStore from "@effect-outbox/sql/SqlOutboxStore"
import { Layer } from "effect"

export const TestOutbox: Layer.Layer<OutboxStore.OutboxStore, Relay.ConfigError, never> = Relay.layer().pipe(
  Layer.provideMerge(Layer.merge(MemoryStore.layer, RecordingSender.layer(RecordingSender.failFirst(1))))
)
export const drained = Drain.untilDrained
export const storeLayer = SqlOutboxStore.layer
