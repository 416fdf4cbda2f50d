import { StoreContract } from "@effect-outbox/core/testing"
import { storeLayer } from "./postgres.js"

StoreContract.run("SqlOutboxStore on Postgres", { layer: storeLayer(), clock: "live", transactional: true, ackAndClaim: true })
StoreContract.run("SqlOutboxStore on Postgres, keeping sent rows", {
  layer: storeLayer({ retainSent: "1 hour" }),
  clock: "live",
  transactional: true,
  ackAndClaim: true
})
