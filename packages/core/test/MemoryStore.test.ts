import { MemoryStore } from "@effect-outbox/core"
import { StoreContract } from "@effect-outbox/core/testing"

StoreContract.run("MemoryStore", { layer: MemoryStore.layer, clock: "test", ackAndClaim: true })
