/**
 * An in-memory `OutboxStore` with the full semantics of the contract: leases
 * and availability follow Effect's `Clock` (so `TestClock` drives them), dead
 * letters are kept, completion is fenced by the claim's token. For tests, and
 * for apps that want an in-process bus with no durability.
 *
 * Every operation reads the clock, then changes the state in one synchronous
 * block, so concurrent relays in one process never interleave inside an operation.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import type * as DeadLetter from "./DeadLetter.js"
import { compareIds, type MessageId, type OutboxMessage } from "./Message.js"
import * as MessageRow from "./MessageRow.js"
import {
  type Claim,
  type ClaimOptions,
  type CompleteReport,
  Completion,
  isOrdered,
  OutboxStore,
  type Stats
} from "./OutboxStore.js"

interface Row {
  readonly id: MessageId
  readonly topic: string
  readonly key: string | null
  readonly payload: unknown
  readonly headers: Readonly<Record<string, string>>
  readonly createdAt: number
  /** Failed sends so far (see "attempts" in `OutboxStore`). */
  attempts: number
  /** Claims whose lease expired before they were settled. */
  lostClaims: number
  availableAt: number
  lockedUntil: number | null
  lockedBy: string | null
  lastError: string | null
}

interface DeadRow {
  readonly row: Row
  readonly reason: DeadLetter.Reason
  readonly lastError: string
  readonly deadAt: number
  readonly parksKey: boolean
}

const isLeased = (row: Row, now: number) => row.lockedBy !== null && row.lockedUntil !== null && row.lockedUntil > now

const isAvailable = (row: Row, now: number) => !isLeased(row, now) && row.availableAt <= now

const toMessage = (row: Row): OutboxMessage => ({
  id: row.id,
  topic: row.topic,
  key: row.key,
  payload: row.payload,
  headers: row.headers,
  attempts: Math.min(row.attempts, MessageRow.maxCount - 1) + 1,
  lostClaims: row.lostClaims,
  createdAt: new Date(row.createdAt),
  availableAt: new Date(row.availableAt)
})

const toRaw = (row: Row): MessageRow.Row => ({
  topic: row.topic,
  key: row.key,
  payload: row.payload,
  headers: row.headers,
  attempts: row.attempts,
  lost_claims: row.lostClaims,
  created_at: new Date(row.createdAt),
  available_at: new Date(row.availableAt)
})

// A dead letter keeps the number of the attempt it died in, as the relay saw it.
const toDeadLetter = (dead: DeadRow): DeadLetter.DeadLetter => ({
  ...toMessage(dead.row),
  reason: dead.reason,
  lastError: dead.lastError,
  deadAt: new Date(dead.deadAt),
  parksKey: dead.parksKey
})

const byId = (a: { readonly id: MessageId }, b: { readonly id: MessageId }) => compareIds(a.id, b.id)

const matches = (filter: DeadLetter.Filter, dead: DeadRow, now: number): boolean =>
  (filter.topic === undefined || dead.row.topic === filter.topic) &&
  (filter.reason === undefined || dead.reason === filter.reason) &&
  (filter.ids === undefined || filter.ids.includes(dead.row.id)) &&
  (filter.olderThan === undefined || dead.deadAt <= now - Duration.toMillis(filter.olderThan))

/**
 * Makes a fresh, empty in-memory store.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const rows = new Map<MessageId, Row>()
  const dead = new Map<MessageId, DeadRow>()
  let nextId = 1
  let nextToken = 1
  const wakeups = yield* PubSub.sliding<void>(1)

  const selectDead = (filter: DeadLetter.Filter, now: number): Array<DeadRow> => {
    const selected = Array.from(dead.values()).filter((letter) => matches(filter, letter, now))
    selected.sort((a, b) => byId(a.row, b.row))
    return filter.limit === undefined ? selected : selected.slice(0, filter.limit)
  }

  const parkedKeys = (): Array<DeadRow & { readonly row: { readonly key: string } }> =>
    Array.from(dead.values())
      .filter((letter): letter is DeadRow & { readonly row: { readonly key: string } } =>
        letter.parksKey && letter.row.key !== null
      )
      .sort((a, b) => byId(a.row, b.row))

  const claim = (options: ClaimOptions) =>
    Effect.map(Clock.currentTimeMillis, (now): Claim => {
      const token = `memory-${nextToken++}`
      const candidates: Array<Row> = []
      // Ordered: walking in id order, a key's first message is its head; every later one waits.
      const waiting = new Set(options.ordered === undefined ? [] : parkedKeys().map((letter) => letter.row.key))
      const all = Array.from(rows.values())
      // A replayed letter is re-inserted under its old id, so insertion order is not id order.
      if (options.ordered !== undefined) all.sort(byId)
      for (const row of all) {
        if (row.key !== null && isOrdered(options.ordered, row)) {
          if (waiting.has(row.key)) continue
          waiting.add(row.key)
        }
        if (isAvailable(row, now)) candidates.push(row)
      }
      candidates.sort((a, b) =>
        options.freshFirst === true && (a.attempts === 0) !== (b.attempts === 0)
          ? (a.attempts === 0 ? -1 : 1)
          : byId(a, b)
      )
      const claimed = candidates.slice(0, Math.max(0, options.batchSize))
      const leaseUntil = now + Duration.toMillis(options.leaseFor)
      const messages: Array<OutboxMessage> = []
      const malformed: Array<MessageRow.Malformed> = []
      for (const row of claimed) {
        // Still locked means its last lease expired unsettled: a lost claim, not a failed send.
        if (row.lockedBy !== null) row.lostClaims = Math.min(row.lostClaims + 1, MessageRow.maxCount)
        row.lockedBy = token
        row.lockedUntil = leaseUntil
        // Decoded like a SQL row: whatever `append` was handed (through a cast), the relay gets a valid message.
        Either.match(MessageRow.decode(row.id, toRaw(row)), {
          onLeft: (bad) => malformed.push(bad),
          onRight: (message) => messages.push(message)
        })
      }
      return malformed.length === 0 ? { token, messages } : { token, messages, malformed }
    })

  const complete = (token: string, completions: ReadonlyArray<Completion>) =>
    Effect.tap(settle(token, completions), (report) =>
      // A retry comes due later: wake the relays so each can sleep until it.
      report.retried ? PubSub.publish(wakeups, undefined) : Effect.void).pipe(
        Effect.map(({ completed, fenced }): CompleteReport => ({ completed, fenced }))
      )

  const settle = (token: string, completions: ReadonlyArray<Completion>) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      let retried = false
      const completed: Array<string> = []
      const fenced: Array<string> = []
      for (const completion of completions) {
        const row = rows.get(completion.id)
        // Fencing: only the holder of the current lease token may settle a message.
        if (row === undefined || row.lockedBy !== token) {
          fenced.push(completion.id)
          continue
        }
        completed.push(completion.id)
        row.lockedBy = null
        row.lockedUntil = null
        switch (completion._tag) {
          case "Ack": {
            rows.delete(row.id)
            break
          }
          case "Retry": {
            row.attempts = Math.min(row.attempts + 1, MessageRow.maxCount)
            row.availableAt = now + Duration.toMillis(completion.delay)
            row.lastError = completion.error
            retried = true
            break
          }
          case "DeadLetter": {
            rows.delete(row.id)
            dead.set(row.id, {
              row,
              reason: completion.reason,
              lastError: completion.error,
              deadAt: now,
              parksKey: completion.parkKey === true && row.key !== null
            })
            break
          }
          case "Release":
            break
        }
      }
      return { completed, fenced, retried }
    })

  return OutboxStore.of({
    append: (messages) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const ids = messages.map((message) => {
          const id = String(nextId++)
          rows.set(id, {
            id,
            topic: message.topic,
            key: message.key,
            payload: message.payload,
            headers: message.headers,
            createdAt: now,
            attempts: 0,
            lostClaims: 0,
            availableAt: now + (message.delay === undefined ? 0 : Duration.toMillis(message.delay)),
            lockedUntil: null,
            lockedBy: null,
            lastError: null
          })
          return id
        })
        return Effect.as(PubSub.publish(wakeups, undefined), ids)
      }),
    claim,
    complete,
    ackAndClaim: (acks, options) =>
      Effect.flatMap(settle(acks.token, acks.ids.map((id) => Completion.Ack({ id }))), ({ completed, fenced }) =>
        Effect.map(claim(options), (claim) => ({ acked: { completed, fenced }, claim }))),
    renewLease: (token, ids, leaseFor) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        ids.filter((id) => {
          const row = rows.get(id)
          if (row === undefined || row.lockedBy !== token) return false
          row.lockedUntil = now + Duration.toMillis(leaseFor)
          return true
        })),
    // A wake-up once subscribed, as the SQL listener sends on (re)connecting: what was
    // appended before the relay listened is claimed at once, not at the next poll.
    wakeups: Stream.unwrapScoped(
      Effect.map(PubSub.subscribe(wakeups), (subscription) =>
        Stream.concat(Stream.succeed(undefined), Stream.fromQueue(subscription)))
    ),
    wakeupsFrom: "in-process",
    nextDue: Effect.map(Clock.currentTimeMillis, (now) => {
      let earliest: number | null = null
      for (const row of rows.values()) {
        // A leased row comes due when its lease runs out; any other when its time comes.
        const due = isLeased(row, now) && row.lockedUntil !== null ? row.lockedUntil : row.availableAt
        if (due > now && (earliest === null || due < earliest)) earliest = due
      }
      return earliest === null ? Option.none() : Option.some(Duration.millis(earliest - now))
    }),
    unsettled: (ids) => Effect.sync(() => ids.filter((id) => rows.has(id))),
    deadLetters: {
      list: (filter) => Effect.map(Clock.currentTimeMillis, (now) => selectDead(filter, now).map(toDeadLetter)),
      replay: (filter) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const selected = selectDead(filter, now)
          for (const letter of selected) {
            dead.delete(letter.row.id)
            rows.set(letter.row.id, {
              ...letter.row,
              attempts: 0,
              lostClaims: 0,
              availableAt: now,
              lockedBy: null,
              lockedUntil: null,
              lastError: null
            })
          }
          return Effect.as(PubSub.publish(wakeups, undefined), selected.length)
        }),
      purge: (filter) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const selected = selectDead(filter, now)
          for (const letter of selected) dead.delete(letter.row.id)
          return selected.length
        }),
      parkedKeys: (options) =>
        Effect.sync(() =>
          parkedKeys().slice(0, options?.limit).map((letter) => ({
            key: letter.row.key,
            messageId: letter.row.id,
            topic: letter.row.topic,
            reason: letter.reason,
            lastError: letter.lastError,
            since: new Date(letter.deadAt)
          }))
        )
    },
    stats: Effect.map(Clock.currentTimeMillis, (now): Stats => {
      let pending = 0
      let inFlight = 0
      let oldest: number | null = null
      for (const row of rows.values()) {
        if (isLeased(row, now)) {
          inFlight++
        } else {
          pending++
          if (oldest === null || row.createdAt < oldest) oldest = row.createdAt
        }
      }
      return {
        pending,
        inFlight,
        dead: dead.size,
        oldestPendingAgeMillis: oldest === null ? null : now - oldest,
        parkedKeys: parkedKeys().length
      }
    })
  })
})

/**
 * A fresh in-memory store per layer build.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<OutboxStore> = Layer.effect(OutboxStore, make)
