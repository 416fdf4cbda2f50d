import { Leadership } from "@effect-outbox/core"
import { AdvisoryLock } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { eventually } from "@effect-outbox/test-support/Eventually"
import * as TcpProxy from "@effect-outbox/test-support/TcpProxy"
import { databaseUrl } from "./postgres.js"

describe("AdvisoryLock", () => {
  it.live("a leader whose lock connection stops answering is not leader within the ping timeout, instead of hanging", () =>
    Effect.gen(function*() {
      const target = new URL(databaseUrl)
      const proxy = yield* TcpProxy.make({ host: target.hostname, port: Number(target.port || 5432) })
      const url = new URL(databaseUrl)
      url.host = `${proxy.host}:${proxy.port}`
      const context = yield* Layer.build(
        AdvisoryLock.layer({ name: `half-open:${process.pid}`, checkInterval: "100 millis", pingTimeout: "300 millis" }).pipe(
          Layer.provide(PgClient.layer({ url: Redacted.make(url.href), maxConnections: 2 }))
        )
      )
      const leadership = Context.get(context, Leadership.Leadership)
      // Runs first on close: cut the frozen sockets, or closing the pool would wait on them forever.
      yield* Effect.addFinalizer(() => proxy.cut)
      yield* eventually("leadership", leadership.isLeader)
      // Requests still flow; answers never come back, as on a half-open socket.
      yield* proxy.holdReplies
      // Bounded well above the ping timeout: a hang fails the test here.
      const leader = yield* leadership.isLeader.pipe(Effect.timeout("3 seconds"))
      expect(leader).toBe(false)
    }).pipe(Effect.scoped))
})
