import * as ConfirmedSend from "@effect-outbox/core/ConfirmedSend"
import * as Reconnect from "@effect-outbox/core/Reconnect"
import { SendResult } from "@effect-outbox/core/Sender"
import * as SenderFixtures from "@effect-outbox/test-support/SenderFixtures"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Schedule, Scope, TestClock } from "effect"

type ConnectOutcome = "ok" | Reconnect.ConnectError["kind"]

interface FakeSession {
  readonly generation: number
  readonly end: Deferred.Deferred<Reconnect.CloseReason>
  /** Ids published on this session, in order. */
  readonly published: Array<string>
}

/**
 * A scripted broker: each connection attempt takes the next scripted outcome
 * ("ok" once the script runs out). It counts attempts and open sessions.
 */
const makeBroker = (script: ReadonlyArray<ConnectOutcome> = []) => {
  const state = { attempts: 0, open: 0, maxOpen: 0, sessions: [] as Array<FakeSession> }
  const connect = Effect.gen(function*() {
    state.attempts++
    const outcome = script[state.attempts - 1] ?? "ok"
    if (outcome !== "ok") {
      return yield* new Reconnect.ConnectError({ kind: outcome, reason: `scripted ${outcome} failure #${state.attempts}` })
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        state.open++
        state.maxOpen = Math.max(state.maxOpen, state.open)
      }),
      () => Effect.sync(() => state.open--)
    )
    const session: FakeSession = {
      generation: state.sessions.length + 1,
      end: yield* Deferred.make<Reconnect.CloseReason>(),
      published: []
    }
    state.sessions.push(session)
    return session
  })
  const latest = () => state.sessions[state.sessions.length - 1]
  /** Ends the newest session, as the broker would. */
  const end = (reason: Reconnect.CloseReason) =>
    Effect.suspend(() => {
      const session = latest()
      return session === undefined ? Effect.dieMessage("no session to end") : Deferred.succeed(session.end, reason)
    })
  return { state, connect, closed: (session: FakeSession) => Deferred.await(session.end), end, latest }
}

type Broker = ReturnType<typeof makeBroker>

const supervisor = (broker: Broker, options: Partial<Reconnect.Options<FakeSession>> = {}) =>
  Reconnect.make<FakeSession>({
    broker: "test broker at 127.0.0.1:1",
    connect: broker.connect,
    closed: broker.closed,
    initialBackoff: "100 millis",
    maxBackoff: "1 second",
    budget: 3,
    // Unjittered, so the waits are exact: 100, 200, 400, … ms.
    schedule: Schedule.exponential("100 millis"),
    ...options
  })

/** Lets forked fibers run until `check` holds (virtual time does not move). */
const until = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100 && !check(); i++) yield* TestClock.adjust(0)
    expect(check()).toBe(true)
  })

const dropped = Reconnect.CloseReason.Dropped({ reason: "socket reset" })
const drained = Reconnect.CloseReason.Drained({ reason: "server draining" })
const closed = Reconnect.CloseReason.Closed({ reason: "the connection was closed cleanly" })

const generationOf = <S>(s: Reconnect.Supervisor<S>) => s.withSession((_, handle) => Effect.succeed(handle.generation))

describe("Reconnect", () => {
  it.scoped("establishment retries transient failures on the backoff schedule", () =>
    Effect.gen(function*() {
      const broker = makeBroker(["Transient", "Transient"])
      const s = yield* supervisor(broker)
      const first = yield* Effect.fork(generationOf(s))
      yield* until(() => broker.state.attempts === 1)
      // Waits of 100 ms then 200 ms: the third attempt comes at 300 ms, not a millisecond earlier.
      yield* TestClock.adjust("299 millis")
      expect(broker.state.attempts).toBe(2)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(first)).toBe(1)
      expect(broker.state.attempts).toBe(3)
    }))

  it.scoped("an authentication error fails after exactly one attempt, with a clear error", () =>
    Effect.gen(function*() {
      const broker = makeBroker(["Auth"])
      const s = yield* supervisor(broker)
      const error = yield* Effect.flip(generationOf(s))
      yield* TestClock.adjust("10 minutes")
      expect(broker.state.attempts).toBe(1)
      expect(error).toMatchObject({ _tag: "ReconnectError", reason: "Auth" })
      expect(error.message).toBe(
        "test broker at 127.0.0.1:1 refused the credentials or permissions (not retried): scripted Auth failure #1"
      )
      // Later sends fail the same way, without another attempt.
      expect((yield* Effect.flip(generationOf(s))).reason).toBe("Auth")
      expect(broker.state.attempts).toBe(1)
    }))

  it.scoped("a configuration error (missing stream or exchange) is not retried either", () =>
    Effect.gen(function*() {
      const broker = makeBroker(["Config"])
      const s = yield* supervisor(broker)
      expect((yield* Effect.flip(s.await)).reason).toBe("Config")
      yield* TestClock.adjust("10 minutes")
      expect(broker.state.attempts).toBe(1)
    }))

  it.scoped("drops share one budget; when it is spent the sender fails with an error naming the broker and cause", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker, { budget: 3 })
      expect(yield* generationOf(s)).toBe(1)
      // Three drops in a row are within the budget of 3: sessions 2, 3 and 4 open after 100, 200, 400 ms.
      for (const [wait, generation] of [[100, 2], [200, 3], [400, 4]] as const) {
        yield* broker.end(dropped)
        yield* TestClock.adjust(wait)
        expect(yield* generationOf(s)).toBe(generation)
      }
      yield* broker.end(dropped)
      const error = yield* Effect.flip(s.await)
      expect(error).toMatchObject({ _tag: "ReconnectError", reason: "Exhausted", failures: 4 })
      expect(error.message).toBe(
        "Gave up on test broker at 127.0.0.1:1 after 4 failed connection attempts and drops in a row: socket reset"
      )
      expect((yield* Effect.flip(generationOf(s))).reason).toBe("Exhausted")
      yield* TestClock.adjust("10 minutes")
      expect(broker.state.attempts).toBe(4)
    }))

  it.scoped("failed reconnect attempts and drops spend the same budget", () =>
    Effect.gen(function*() {
      // Session 1, then a drop, then two refused attempts: three failures; the fourth is one too many.
      const broker = makeBroker(["ok", "Transient", "Transient", "Transient"])
      const s = yield* supervisor(broker, { budget: 3 })
      expect(yield* generationOf(s)).toBe(1)
      yield* broker.end(dropped)
      yield* TestClock.adjust("10 seconds")
      const error = yield* Effect.flip(s.await)
      expect(error).toMatchObject({ reason: "Exhausted", failures: 4, detail: "scripted Transient failure #4" })
      expect(broker.state.attempts).toBe(4)
    }))

  it.scoped("the budget and the backoff reset once a session confirms a publish", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker, { budget: 2 })
      yield* generationOf(s)
      yield* broker.end(dropped)
      yield* TestClock.adjust("100 millis")
      yield* broker.end(dropped)
      yield* TestClock.adjust("200 millis")
      // Session 3 exists with the whole budget of 2 spent; it proves healthy.
      expect(yield* s.withSession((_, handle) => Effect.as(handle.healthy, handle.generation))).toBe(3)
      yield* broker.end(dropped)
      // Back to the first wait (100 ms, not 400 ms), and the drop did not exhaust anything.
      yield* TestClock.adjust("99 millis")
      expect(broker.state.attempts).toBe(3)
      yield* TestClock.adjust("1 millis")
      expect(yield* generationOf(s)).toBe(4)
      yield* broker.end(dropped)
      yield* TestClock.adjust("200 millis")
      expect(yield* generationOf(s)).toBe(5)
      // Without another healthy session the budget runs out again.
      yield* broker.end(dropped)
      expect((yield* Effect.flip(s.await)).reason).toBe("Exhausted")
    }))

  it.scoped("a session that stays up longer than the max backoff resets the budget", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker, { budget: 1, maxBackoff: "1 second" })
      yield* generationOf(s)
      yield* broker.end(dropped)
      yield* TestClock.adjust("100 millis")
      expect(yield* generationOf(s)).toBe(2)
      // Budget spent; session 2 stays up for the max backoff, then drops.
      yield* TestClock.adjust("1 second")
      yield* broker.end(dropped)
      yield* TestClock.adjust("100 millis")
      expect(yield* generationOf(s)).toBe(3)
      // Session 3 drops at once: that one exhausts the budget of 1.
      yield* broker.end(dropped)
      expect((yield* Effect.flip(s.await)).reason).toBe("Exhausted")
    }))

  it.scoped("a server-announced drain reconnects after the initial backoff without spending budget", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      // A budget of 0: any drop gives up at once, so only an unbudgeted drain can reconnect.
      const s = yield* supervisor(broker, { budget: 0 })
      yield* generationOf(s)
      for (let generation = 2; generation <= 6; generation++) {
        yield* broker.end(drained)
        yield* TestClock.adjust("99 millis")
        expect(broker.state.attempts).toBe(generation - 1)
        yield* TestClock.adjust("1 millis")
        expect(yield* generationOf(s)).toBe(generation)
      }
      yield* broker.end(dropped)
      expect((yield* Effect.flip(s.await)).reason).toBe("Exhausted")
      expect(broker.state.attempts).toBe(6)
    }))

  it.scoped("unannounced clean closes spend the budget and give up; announced drains in between do not", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker, { budget: 2 })
      yield* generationOf(s)
      // Two clean closes fit the budget of 2 (waits of 100 and 200 ms); drains around them spend nothing.
      for (const [reason, wait, generation] of [[drained, 100, 2], [closed, 100, 3], [drained, 100, 4], [closed, 200, 5]] as const) {
        yield* broker.end(reason)
        yield* TestClock.adjust(wait)
        expect(yield* generationOf(s)).toBe(generation)
      }
      // The third in a row exhausts it: no endless reconnect loop against a broker that closes every session.
      yield* broker.end(closed)
      const error = yield* Effect.flip(s.await)
      expect(error).toMatchObject({ _tag: "ReconnectError", reason: "Exhausted", failures: 3 })
      expect(error.message).toBe(
        "Gave up on test broker at 127.0.0.1:1 after 3 failed connection attempts and drops in a row: the connection was closed cleanly"
      )
      yield* TestClock.adjust("10 minutes")
      expect(broker.state.attempts).toBe(5)
    }))

  it.scoped("a revoked authorization mid-session fails at once", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker)
      yield* generationOf(s)
      yield* broker.end(Reconnect.CloseReason.Revoked({ reason: "Authorization Violation" }))
      const error = yield* Effect.flip(s.await)
      expect(error.message).toBe("test broker at 127.0.0.1:1 revoked the session's authorization: Authorization Violation")
      yield* TestClock.adjust("10 minutes")
      expect(broker.state.attempts).toBe(1)
    }))

  it.effect("shutdown during a backoff wins at once: no further attempt, waiters fail", () =>
    Effect.gen(function*() {
      const broker = makeBroker(["Transient", "Transient"])
      const scope = yield* Scope.make()
      const s = yield* supervisor(broker, { initialBackoff: "1 minute", schedule: Schedule.exponential("1 minute") }).pipe(
        Scope.extend(scope)
      )
      const waiter = yield* Effect.fork(generationOf(s))
      yield* until(() => broker.state.attempts === 1)
      // The supervisor now waits a minute; closing its scope must not wait for that.
      let closed = false
      yield* Effect.fork(Scope.close(scope, Exit.void).pipe(Effect.ensuring(Effect.sync(() => (closed = true)))))
      yield* until(() => closed)
      const error = yield* Effect.flip(Fiber.join(waiter))
      expect(error.reason).toBe("Shutdown")
      yield* TestClock.adjust("1 hour")
      expect(broker.state.attempts).toBe(1)
    }))

  it.effect("shutdown closes the open session", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const scope = yield* Scope.make()
      const s = yield* supervisor(broker).pipe(Scope.extend(scope))
      yield* generationOf(s)
      expect(broker.state.open).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(broker.state.open).toBe(0)
      expect((yield* Effect.flip(generationOf(s))).reason).toBe("Shutdown")
    }))

  it.scoped("at most one session is alive at a time: the old one closes before a new one opens", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker, { budget: 10 })
      yield* generationOf(s)
      for (const reason of [dropped, drained, dropped, drained, drained]) {
        // A sender holding the session while it ends must not keep it alive into the next one.
        const holder = yield* Effect.fork(s.withSession(() => Effect.never))
        yield* broker.end(reason)
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(holder)
      }
      expect(yield* generationOf(s)).toBe(6)
      expect(broker.state).toMatchObject({ attempts: 6, open: 1, maxOpen: 1 })
    }))

  it.scoped("a sender reporting the session lost drops it and gets a new one", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker)
      yield* s.withSession((_, handle) => handle.lost("publish failed: connection closed"))
      // The close event gets 100 ms to arrive and say why; it does not, so this is a drop (100 ms backoff).
      yield* TestClock.adjust("199 millis")
      expect(broker.state.attempts).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* generationOf(s)).toBe(2)
      expect(broker.state.maxOpen).toBe(1)
    }))

  it.scoped("when a sender notices first, the close event that follows still decides: a drain spends no budget", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker, { budget: 0 })
      yield* s.withSession((_, handle) => handle.lost("channel closed"))
      yield* TestClock.adjust("50 millis")
      yield* broker.end(drained)
      yield* TestClock.adjust("100 millis")
      expect(yield* generationOf(s)).toBe(2)
    }))
})

// --- unconfirmed publishes -------------------------------------------------

const message = (id: string) => SenderFixtures.message(id, "order.created", { payload: { id } })

const batch = (...ids: ReadonlyArray<string>) => ids.map(message)

/**
 * Publishing on a fake session: `confirm` says how the broker answers a
 * message on a session. "hold" waits until the session ends, then the
 * publish is lost with it (as a real unconfirmed publish is).
 */
const publisher = (
  confirm: (id: string, generation: number) => "confirm" | "hold" | "nack" | "reject" | "never"
): ConfirmedSend.Publish<FakeSession> =>
(session, { id }) =>
  Effect.sync(() => {
    session.published.push(id)
    switch (confirm(id, session.generation)) {
      case "confirm":
        return Effect.void
      case "nack":
        return Effect.fail(ConfirmedSend.PublishFailure.Failed({ reason: "nacked" }))
      case "reject":
        return Effect.fail(ConfirmedSend.PublishFailure.Rejected({ reason: "unroutable" }))
      case "never":
        return Effect.never
      case "hold":
        return Effect.flatMap(Deferred.await(session.end), () =>
          Effect.fail(ConfirmedSend.PublishFailure.SessionLost({ reason: "connection closed" })))
    }
  })

describe("ConfirmedSend.sendConfirmed", () => {
  it.scoped("a defect while encoding one message (a broker sender's throw) fails that message only; its batch mates are confirmed", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker)
      const confirming = publisher(() => "confirm")
      const send = ConfirmedSend.sendConfirmed(
        s,
        (session, message) =>
          message.id === "2"
            ? Effect.sync(() => {
              throw new TypeError("Do not know how to serialize a BigInt")
            })
            : confirming(session, message),
        { timeout: "5 seconds" }
      )
      const results = yield* send(batch("1", "2", "3"))
      expect(results.map((result) => result._tag)).toEqual(["Sent", "Failed", "Sent"])
      expect(results[1]).toMatchObject({ error: expect.stringContaining("the sender died on this message: TypeError") })
    }))

  it.scoped("publishes left unconfirmed by a drop are re-sent on the next session; confirmed ones are not", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker)
      const send = ConfirmedSend.sendConfirmed(
        s,
        publisher((id, generation) => (generation === 1 && Number(id) >= 3 ? "hold" : "confirm")),
        { timeout: "5 seconds" }
      )
      const sending = yield* Effect.fork(send(batch("1", "2", "3", "4", "5")))
      yield* until(() => broker.latest()?.published.length === 5)
      yield* broker.end(dropped)
      yield* TestClock.adjust("100 millis")
      const results = yield* Fiber.join(sending)
      expect(results).toEqual(["1", "2", "3", "4", "5"].map((id) => SendResult.Sent({ id })))
      expect(broker.state.sessions.map((session) => session.published)).toEqual([
        ["1", "2", "3", "4", "5"],
        ["3", "4", "5"]
      ])
    }))

  it.scoped("a drop mid-batch after a confirmation spends no budget: the session proved healthy", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker, { budget: 1 })
      // Each batch's second message is held (then lost) the first time it is published.
      const held = new Set<string>()
      const send = ConfirmedSend.sendConfirmed(
        s,
        publisher((id) => (id.endsWith("b") && !held.has(id) ? (held.add(id), "hold") : "confirm")),
        { timeout: "5 seconds" }
      )
      // Three times, a batch is half confirmed when its session drops. With a budget
      // of 1, only the resets from the confirmations keep the sender going.
      for (const round of ["1", "2", "3"]) {
        const sending = yield* Effect.fork(send(batch(`${round}a`, `${round}b`)))
        yield* until(() => broker.latest()?.published.includes(`${round}b`) === true)
        yield* broker.end(dropped)
        yield* TestClock.adjust("100 millis")
        expect(yield* Fiber.join(sending)).toEqual([
          SendResult.Sent({ id: `${round}a` }),
          SendResult.Sent({ id: `${round}b` })
        ])
      }
      expect(broker.state.sessions.length).toBe(4)
    }))

  it.scoped("what is unconfirmed at the timeout comes back Failed, the rest as the broker said", () =>
    Effect.gen(function*() {
      const broker = makeBroker()
      const s = yield* supervisor(broker)
      const answers = { "1": "confirm", "2": "never", "3": "nack", "4": "reject" } as const
      const send = ConfirmedSend.sendConfirmed(s, publisher((id) => answers[id as keyof typeof answers]), {
        timeout: "5 seconds"
      })
      const sending = yield* Effect.fork(send(batch("1", "2", "3", "4")))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(sending)).toEqual([
        SendResult.Sent({ id: "1" }),
        SendResult.Failed({ id: "2", error: "test broker at 127.0.0.1:1 did not confirm within 5s" }),
        SendResult.Failed({ id: "3", error: "nacked" }),
        SendResult.Rejected({ id: "4", error: "unroutable" })
      ])
    }))

  it.scoped("with no session the whole batch fails with the supervisor's error", () =>
    Effect.gen(function*() {
      const broker = makeBroker(["Auth"])
      const s = yield* supervisor(broker)
      const send = ConfirmedSend.sendConfirmed(s, publisher(() => "confirm"), { timeout: "5 seconds" })
      const error = yield* Effect.flip(send(batch("1", "2")))
      expect(error.reason).toBe(
        "test broker at 127.0.0.1:1 refused the credentials or permissions (not retried): scripted Auth failure #1"
      )
      expect(broker.state.attempts).toBe(1)
    }))

  it.scoped("waiting for a session counts against the timeout", () =>
    Effect.gen(function*() {
      const broker = makeBroker(["Transient", "Transient", "Transient"])
      const s = yield* supervisor(broker, { schedule: Schedule.spaced("10 seconds"), maxBackoff: "10 seconds" })
      const send = ConfirmedSend.sendConfirmed(s, publisher(() => "confirm"), { timeout: "5 seconds" })
      const sending = yield* Effect.fork(send(batch("1")))
      yield* TestClock.adjust(Duration.seconds(5))
      const error = yield* Effect.flip(Fiber.join(sending))
      expect(error.reason).toBe("test broker at 127.0.0.1:1 did not confirm within 5s")
    }))
})
