/**
 * The store contract: what the relay and the producer need from a place that
 * keeps messages. It speaks encoded, JSON-shaped messages only; every store
 * (memory, Postgres, PGlite) passes the same suite from `@effect-outbox/core/testing`.
 *
 * Glossary:
 * - **available**: not leased, and `availableAt` has come.
 * - **claim**: leasing up to `batchSize` available messages for `leaseFor`, FIFO by id.
 *   Each claim has a fresh **token**; the claimed messages carry it until completed or
 *   until the lease expires, when they become available again (redelivery).
 * - **attempts**: failed sends, counted by `complete` (a `Retry`); a message's `attempts`
 *   is that count plus one, the number of the delivery in progress.
 * - **lost claim**: a claim whose lease expired before `complete` settled it (a relay
 *   crashed or hung): counted in `lostClaims` by the next claim, never in `attempts`,
 *   so a crash does not spend the retry policy of the messages it held.
 * - **complete**: settling claimed messages (ack, retry later, dead-letter, release).
 *   It is **fenced**: only messages still leased under the same token are changed;
 *   the rest are reported back as `fenced`, because another claimer may hold them now.
 * - **ordered claim**: a claim that hands out only the **head** of each key: a keyed
 *   message on an ordered topic is claimable only when no earlier message of its key
 *   (on an ordered topic) is still in the outbox — in flight, waiting for a retry, or
 *   pending — and its key is not **parked**. So a key never has two messages in
 *   flight, a claim holds each key at most once, and keys are delivered in id order.
 * - **parked key**: a key whose head was dead-lettered with `parkKey`: its later
 *   messages wait until that dead letter is replayed (it becomes the head again) or purged.
 * - **transactional claim** (optional, `transactional`): the batch is taken inside an
 *   open transaction whose row locks are its lease; the batch's completions are
 *   written in that same transaction, which then commits. Any failure, interruption
 *   or lost connection rolls it back, and the whole batch is claimable again at once.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type * as DeadLetter from "./DeadLetter.js"
import type { MessageId, NewMessage, OutboxMessage } from "./Message.js"
import type { Malformed } from "./MessageRow.js"

/**
 * What to claim.
 *
 * @category models
 * @since 0.1.0
 */
export interface ClaimOptions {
  readonly batchSize: number
  readonly leaseFor: Duration.Duration
  /** Claim messages on their first attempt before retries (still FIFO within each group). */
  readonly freshFirst?: boolean | undefined
  /** Claim only the head of each key (see "ordered claim" above); absent means unordered. */
  readonly ordered?: Ordering | undefined
}

/**
 * Which messages an ordered claim keeps in key order: every topic's, or only the listed topics'.
 *
 * @category models
 * @since 0.1.0
 */
export type Ordering = "all" | { readonly topics: ReadonlyArray<string> }

/**
 * Whether a message takes part in key ordering under `ordering`: keyed, and on an ordered topic.
 *
 * @category utils
 * @since 0.1.0
 */
export const isOrdered = (
  ordering: Ordering | undefined,
  message: { readonly topic: string; readonly key: string | null }
): boolean =>
  ordering !== undefined && message.key !== null && (ordering === "all" || ordering.topics.includes(message.topic))

/**
 * Messages leased to one claimer under one token. A claimed row that does not
 * decode (see `MessageRow`) is leased too, but comes back in `malformed`
 * instead of `messages`: the relay dead-letters it alone (`Malformed`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Claim {
  readonly token: string
  readonly messages: ReadonlyArray<OutboxMessage>
  readonly malformed?: ReadonlyArray<Malformed> | undefined
}

/**
 * How to settle one claimed message.
 *
 * @category models
 * @since 0.1.0
 */
export type Completion = Data.TaggedEnum<{
  /** Delivered: remove it (or keep it as sent, where the store retains sent messages). */
  Ack: { readonly id: MessageId }
  /** Try again after `delay`, keeping `error` as its last error: one more failed send counted. */
  Retry: { readonly id: MessageId; readonly delay: Duration.Duration; readonly error: string }
  /**
   * Give up: move it to the dead letters with its reason and last error. With
   * `parkKey`, its key is parked: ordered claims hold back the key's later
   * messages until this letter is replayed or purged.
   */
  DeadLetter: {
    readonly id: MessageId
    readonly reason: DeadLetter.Reason
    readonly error: string
    readonly parkKey?: boolean | undefined
  }
  /** Hand it back untried (shutdown before sending): available at once, and no attempt is counted. */
  Release: { readonly id: MessageId }
}>

/**
 * Constructors and matchers for `Completion`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const Completion = Data.taggedEnum<Completion>()

/**
 * What a `complete` call changed.
 *
 * @category models
 * @since 0.1.0
 */
export interface CompleteReport {
  /** Ids settled as asked. */
  readonly completed: ReadonlyArray<MessageId>
  /** Ids no longer leased under the token (lease expired, maybe re-claimed): left untouched. */
  readonly fenced: ReadonlyArray<MessageId>
}

/**
 * A snapshot of the outbox, for health checks, metrics and the admin API.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** Messages not leased: available now, or waiting for their delay or retry. */
  readonly pending: number
  /** Messages under an unexpired lease. */
  readonly inFlight: number
  readonly dead: number
  /** Age of the oldest pending message (now − createdAt), or null when nothing is pending. */
  readonly oldestPendingAgeMillis: number | null
  /** Keys parked behind a dead letter (see `DeadLetters.parkedKeys`). */
  readonly parkedKeys: number
}

/**
 * A store operation failed. The message says which operation. `kind` says
 * whether the store could not be reached (`Unreachable`: a connection lost or
 * refused, a restarting database) or answered with an error (`Statement`: the
 * statement failed, e.g. a value out of range); absent means unknown.
 *
 * @category errors
 * @since 0.1.0
 */
export class OutboxStoreError extends Data.TaggedError("OutboxStoreError")<{
  readonly operation: string
  readonly cause?: unknown
  readonly detail?: string | undefined
  readonly kind?: "Unreachable" | "Statement" | undefined
}> {
  override get message() {
    return `Outbox store ${this.operation} failed${this.detail === undefined ? "" : `: ${this.detail}`}`
  }
}

/**
 * Delivered messages of an earlier claim, to ack in the same write as the next claim (`ackAndClaim`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Acks {
  readonly token: string
  readonly ids: ReadonlyArray<MessageId>
}

/**
 * What `ackAndClaim` did: the acks it applied (the rest were fenced) and the new claim.
 *
 * @category models
 * @since 0.1.0
 */
export interface AckedClaim {
  readonly acked: CompleteReport
  readonly claim: Claim
}

/**
 * What a transactional claim committed: the batch, and how each of its messages was settled.
 *
 * @category models
 * @since 0.1.0
 */
export interface TransactionalBatch {
  readonly claim: Claim
  /** Every completion was applied (no fencing: the transaction held the rows throughout). */
  readonly completions: ReadonlyArray<Completion>
}

/**
 * The transactional claim mode of a store (see "transactional claim" above).
 * A store without it leaves `transactional` out, and a relay asking for that
 * mode refuses to start.
 *
 * @category models
 * @since 0.1.0
 */
export interface TransactionalClaims {
  /**
   * How many transactional claims the store can hold open at once (its pool's
   * connections, less one for everything else), when it knows: each holds a
   * connection for the length of its send. The relay refuses a larger `concurrency`.
   */
  readonly maxOpen: number | undefined
  /**
   * Claims up to `batchSize` available messages (FIFO by id, `freshFirst` and
   * `ordered` as for `claim`) in a new transaction, runs `settle` on them,
   * writes the completions it returns in the same transaction and commits. An
   * empty claim commits without calling `settle`. If `settle` fails or is
   * interrupted, or the transaction cannot commit, everything is rolled back and
   * the store counts it as a lost claim (`lostClaims`) where it still can.
   * `settle` runs outside the transaction's connection: its own queries do not join it.
   */
  readonly run: <E, R>(
    options: ClaimOptions,
    settle: (claim: Claim) => Effect.Effect<ReadonlyArray<Completion>, E, R>
  ) => Effect.Effect<TransactionalBatch, OutboxStoreError | E, R>
}

/**
 * The dead-letter side of a store.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeadLetters {
  /** Letters matching the filter, oldest first. */
  readonly list: (filter: DeadLetter.Filter) => Effect.Effect<ReadonlyArray<DeadLetter.DeadLetter>, OutboxStoreError>
  /** Moves matching letters back to pending (attempts reset, available now); returns how many. */
  readonly replay: (filter: DeadLetter.Filter) => Effect.Effect<number, OutboxStoreError>
  /** Deletes matching letters for good; returns how many. */
  readonly purge: (filter: DeadLetter.Filter) => Effect.Effect<number, OutboxStoreError>
  /** The parked keys, oldest first, each with the dead letter that parks it. */
  readonly parkedKeys: (options?: { readonly limit?: number | undefined }) => Effect.Effect<
    ReadonlyArray<DeadLetter.ParkedKey>,
    OutboxStoreError
  >
}

/**
 * The store service. See the module comment for the glossary.
 *
 * @category tags
 * @since 0.1.0
 */
export class OutboxStore extends Context.Tag("@effect-outbox/core/OutboxStore")<OutboxStore, {
  /**
   * Appends messages, in order, returning their ids. A SQL store runs this in the
   * caller's transaction when there is one, so a rollback means the messages never existed.
   */
  readonly append: (messages: ReadonlyArray<NewMessage>) => Effect.Effect<ReadonlyArray<MessageId>, OutboxStoreError>
  /** Leases up to `batchSize` available messages, FIFO by id; an empty claim has no messages. */
  readonly claim: (options: ClaimOptions) => Effect.Effect<Claim, OutboxStoreError>
  /** Settles claimed messages in one batched write, fenced by the claim's token. */
  readonly complete: (
    token: string,
    completions: ReadonlyArray<Completion>
  ) => Effect.Effect<CompleteReport, OutboxStoreError>
  /** Extends the lease of messages still held under `token`; returns the ids still held. */
  readonly renewLease: (
    token: string,
    ids: ReadonlyArray<MessageId>,
    leaseFor: Duration.Duration
  ) => Effect.Effect<ReadonlyArray<MessageId>, OutboxStoreError>
  /**
   * Emits when messages may have become available (a commit elsewhere). A hint only:
   * it may be late, merged or lost, so the relay also polls. It never fails.
   */
  readonly wakeups: Stream.Stream<void>
  /**
   * Where `wakeups` come from, for the relay's start log (e.g. `NOTIFY on
   * "outbox"`); absent when the store has none and relays only poll.
   */
  readonly wakeupsFrom?: string | undefined
  /**
   * How long until the next unsent message becomes claimable by time alone: a
   * delayed message or a retry coming due, or a lease running out. `None` when
   * nothing is waiting for its time (what is claimable now does not count). The
   * relay sleeps until this or its `pollInterval`, whichever is sooner, so a due
   * message is attempted when it is due. Asked only when the relay is about to
   * idle; a SQL store answers from an index, in the database's time.
   */
  readonly nextDue: Effect.Effect<Option.Option<Duration.Duration>, OutboxStoreError>
  /** Which of `ids` are still in the outbox (pending or in flight), i.e. not yet sent or dead-lettered. */
  readonly unsettled: (ids: ReadonlyArray<MessageId>) => Effect.Effect<ReadonlyArray<MessageId>, OutboxStoreError>
  readonly deadLetters: DeadLetters
  readonly stats: Effect.Effect<Stats, OutboxStoreError>
  /** The transactional claim mode, when the store supports it. */
  readonly transactional?: TransactionalClaims | undefined
  /**
   * Optional: acks an earlier claim's delivered messages (fenced by its token,
   * as `complete` with `Ack`s) and claims the next batch, in one write. A relay
   * draining a backlog uses it to settle a full batch with the next claim
   * instead of a write of its own. The acked messages are never part of the new
   * claim. A store without it leaves it out and the relay completes each batch alone.
   */
  readonly ackAndClaim?: ((acks: Acks, options: ClaimOptions) => Effect.Effect<AckedClaim, OutboxStoreError>) | undefined
}>() {}
