import { OutboxStore, Relay, RetryPolicy } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { admin, call, parkKey, publish, serverEnv, token } from "./managementServer.js"

// The admin API (/admin/...) as the management server serves it.
describe("AdminApi", () => {
  const deadLetters = Effect.gen(function*() {
    yield* publish("admin.refused", 3)
    yield* publish("admin.failing", 2)
    yield* Relay.drainOnce({ retryPolicy: RetryPolicy.fixed({ delay: "1 second", maxAttempts: 1 }) })
    const store = yield* OutboxStore.OutboxStore
    expect(yield* store.stats).toMatchObject({ pending: 0, dead: 5 })
  })
  const behaviour = RecordingSender.combine(
    RecordingSender.rejectTopic("admin.refused"),
    (message) => (message.topic === "admin.failing" ? "failed" : "sent")
  )

  it.scoped("401 without a token or with a wrong one, 200 with the right one", () =>
    Effect.gen(function*() {
      const missing = yield* call("GET", "/admin/stats")
      expect([missing.status, missing.json()]).toEqual([401, { error: "missing bearer token" }])
      expect(missing.headers["www-authenticate"]).toBe("Bearer realm=\"outbox-admin\"")
      const wrong = yield* call("GET", "/admin/stats", "not-the-token")
      expect([wrong.status, wrong.json()]).toEqual([401, { error: "invalid bearer token" }])
      const prefix = yield* call("GET", "/admin/stats", token.slice(0, -1))
      expect(prefix.status).toBe(401)
      const replay = yield* call("POST", "/admin/dead-letters/replay?all=true")
      expect(replay.status).toBe(401)

      const ok = yield* admin("GET", "/admin/stats")
      expect([ok.status, ok.json()]).toEqual([
        200,
        { pending: 0, inFlight: 0, dead: 0, oldestPendingAgeMillis: null, parkedKeys: 0 }
      ])
      for (const response of [missing, wrong, ok]) expect(response.text).not.toContain(token)
    }).pipe(Effect.provide(serverEnv())))

  it.scoped("is off (403) when no token is configured", () =>
    Effect.gen(function*() {
      for (const path of ["/admin/stats", "/admin/parked-keys"]) {
        const response = yield* call("GET", path, "anything")
        expect([path, response.status, response.json()]).toEqual([
          path,
          403,
          { error: "the admin API is off: no admin token is configured" }
        ])
      }
    }).pipe(Effect.provide(serverEnv({ adminToken: undefined }))))

  it.scoped("lists dead letters with filters", () =>
    Effect.gen(function*() {
      yield* deadLetters
      const all = (yield* admin("GET", "/admin/dead-letters")).json()
      expect(all.count).toBe(5)
      expect(all.limit).toBe(100)
      expect(all.deadLetters[0]).toMatchObject({
        topic: "admin.refused",
        reason: "Rejected",
        attempts: 1,
        lastError: "scripted rejection of admin.refused",
        payload: { n: 0 }
      })
      const byReason = (yield* admin("GET", "/admin/dead-letters?reason=Exhausted")).json()
      expect(byReason.deadLetters.map((letter: { topic: string }) => letter.topic)).toEqual([
        "admin.failing",
        "admin.failing"
      ])
      const ids = all.deadLetters.slice(0, 2).map((letter: { id: string }) => letter.id)
      const byIds = (yield* admin("GET", `/admin/dead-letters?ids=${ids.join(",")}`)).json()
      expect(byIds.deadLetters.map((letter: { id: string }) => letter.id)).toEqual(ids)
      expect((yield* admin("GET", "/admin/dead-letters?topic=admin.refused&limit=2")).json().count).toBe(2)

      yield* TestClock.adjust("10 minutes")
      expect((yield* admin("GET", "/admin/dead-letters?olderThan=15m")).json().count).toBe(0)
      expect((yield* admin("GET", "/admin/dead-letters?olderThan=300")).json().count).toBe(5)
    }).pipe(Effect.provide(serverEnv({}, behaviour))))

  it.scoped("replays and purges with filters and dry runs, returning counts", () =>
    Effect.gen(function*() {
      yield* deadLetters
      const store = yield* OutboxStore.OutboxStore

      const dryRun = yield* admin("POST", "/admin/dead-letters/replay?topic=admin.failing&dryRun=true")
      expect(dryRun.status).toBe(200)
      expect(dryRun.json()).toMatchObject({ dryRun: true, matched: 2 })
      expect(yield* store.stats).toMatchObject({ pending: 0, dead: 5 })

      const replayed = yield* admin("POST", "/admin/dead-letters/replay?topic=admin.failing")
      expect(replayed.json()).toEqual({ replayed: 2 })
      expect(yield* store.stats).toMatchObject({ pending: 2, dead: 3 })

      const everything = yield* admin("POST", "/admin/dead-letters/purge")
      expect(everything.status).toBe(400)
      expect(everything.json().error).toContain("all=true")
      expect(yield* store.stats).toMatchObject({ dead: 3 })

      expect((yield* admin("POST", "/admin/dead-letters/purge?reason=Rejected&dryRun=1")).json().matched).toBe(3)
      expect((yield* admin("POST", "/admin/dead-letters/purge?reason=Rejected")).json()).toEqual({ purged: 3 })
      expect(yield* store.stats).toMatchObject({ pending: 2, dead: 0 })
      expect((yield* admin("POST", "/admin/dead-letters/purge?all=true")).json()).toEqual({ purged: 0 })
    }).pipe(Effect.provide(serverEnv({}, behaviour))))

  it.scoped("lists parked keys, each with the dead letter that parks it; stats count them", () =>
    Effect.gen(function*() {
      const unauthorized = yield* call("GET", "/admin/parked-keys")
      expect([unauthorized.status, unauthorized.json()]).toEqual([401, { error: "missing bearer token" }])
      expect((yield* call("GET", "/admin/parked-keys", "not-the-token")).status).toBe(401)
      expect((yield* admin("GET", "/admin/parked-keys")).json()).toEqual({ count: 0, limit: 100, parkedKeys: [] })

      const letter = yield* parkKey
      const response = yield* admin("GET", "/admin/parked-keys")
      expect(response.status).toBe(200)
      expect(response.json()).toEqual({
        count: 1,
        limit: 100,
        parkedKeys: [{
          key: "o-1",
          messageId: letter,
          topic: "order.paid",
          reason: "Rejected",
          lastError: "422 for o-1",
          since: new Date(0).toISOString()
        }]
      })
      expect((yield* admin("GET", "/admin/stats")).json()).toMatchObject({ pending: 1, dead: 2, parkedKeys: 1 })
      const letters = (yield* admin("GET", "/admin/dead-letters")).json().deadLetters
      expect(letters.map((l: { key: string; parksKey: boolean }) => [l.key, l.parksKey])).toEqual([
        ["o-1", true],
        ["o-2", false]
      ])

      // Purging the parking letter resumes the key: nothing is parked any more.
      expect((yield* admin("POST", `/admin/dead-letters/purge?ids=${letter}`)).json()).toEqual({ purged: 1 })
      expect((yield* admin("GET", "/admin/parked-keys?limit=5")).json()).toEqual({ count: 0, limit: 5, parkedKeys: [] })
      expect((yield* admin("GET", "/admin/stats")).json()).toMatchObject({ parkedKeys: 0 })
    }).pipe(Effect.provide(serverEnv())))

  it.scoped("parked keys: at most limit, oldest first", () =>
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      yield* store.append(["k-1", "k-2", "k-3"].map((key) => ({ topic: "t", key, payload: {}, headers: {} })))
      const claim = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30), ordered: "all" })
      yield* store.complete(
        claim.token,
        claim.messages.map((message) =>
          OutboxStore.Completion.DeadLetter({ id: message.id, reason: "Exhausted", error: "503", parkKey: true })
        )
      )
      const limited = (yield* admin("GET", "/admin/parked-keys?limit=2")).json()
      expect([limited.count, limited.limit, limited.parkedKeys.map((p: { key: string }) => p.key)]).toEqual([
        2,
        2,
        ["k-1", "k-2"]
      ])
    }).pipe(Effect.provide(serverEnv())))

  it.scoped("bad query parameters → 400 naming the parameter", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["GET /admin/dead-letters?limit=abc", "Invalid query parameter \"limit\": expected a whole number of at least 1"],
        ["GET /admin/dead-letters?limit=0", "Invalid query parameter \"limit\": expected a whole number of at least 1"],
        ["GET /admin/dead-letters?reason=Nope", "Invalid query parameter \"reason\": expected one of Exhausted, Rejected, Undecodable, Malformed"],
        ["GET /admin/dead-letters?olderThan=soon", "Invalid query parameter \"olderThan\": expected a duration like 90 (seconds), 15m, 2h or 7d"],
        ["GET /admin/dead-letters?ids=1,,2", "Invalid query parameter \"ids\": expected comma-separated message ids"],
        ["GET /admin/dead-letters?topic=a&topic=b", "Invalid query parameter \"topic\": given more than once; give it once"],
        ["GET /admin/dead-letters?dryRun=true", "Invalid query parameter \"dryRun\": not a known parameter; expected one of topic, reason, ids, olderThan, limit"],
        ["POST /admin/dead-letters/purge?topc=orders", "Invalid query parameter \"topc\": not a known parameter; expected one of topic, reason, ids, olderThan, limit, dryRun, all"],
        ["POST /admin/dead-letters/replay?topic=x&dryRun=maybe", "Invalid query parameter \"dryRun\": expected true or false"],
        ["GET /admin/parked-keys?limit=abc", "Invalid query parameter \"limit\": expected a whole number of at least 1"],
        ["GET /admin/parked-keys?limit=0", "Invalid query parameter \"limit\": expected a whole number of at least 1"],
        ["GET /admin/parked-keys?limit=1&limit=2", "Invalid query parameter \"limit\": given more than once; give it once"],
        ["GET /admin/parked-keys?topic=orders", "Invalid query parameter \"topic\": not a known parameter; expected one of limit"]
      ]
      for (const [request, error] of cases) {
        const [method, path] = request.split(" ") as ["GET" | "POST", string]
        const response = yield* admin(method, path)
        expect([request, response.status, response.json()]).toEqual([request, 400, { error }])
      }
    }).pipe(Effect.provide(serverEnv())))
})
