/**
 * The confirm-and-resend send: a `Sender.send` over a `Reconnect` supervisor
 * that acks only what the broker confirmed, and publishes again on the next
 * session what a lost session left unconfirmed, within the same send call.
 * Broker senders (NATS, AMQP, Redis) supply one `Publish` for their session.
 *
 * @example
 * import { Effect } from "effect"
 * import { ConfirmedSend, type Reconnect } from "@effect-outbox/core"
 *
 * interface Session { readonly publish: (subject: string, data: Uint8Array) => Promise<void> }
 * declare const supervisor: Reconnect.Supervisor<Session>
 * declare const publishOne: ConfirmedSend.Publish<Session>
 *
 * const send = ConfirmedSend.sendConfirmed(supervisor, publishOne, { timeout: "5 seconds" })
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { MessageId, OutboxMessage } from "./Message.js"
import type { Handle, Supervisor } from "./Reconnect.js"
import { SendError, SendResult } from "./Sender.js"

/**
 * How a publish that the broker did not confirm ended.
 *
 * @category models
 * @since 0.1.0
 */
export type PublishFailure = Data.TaggedEnum<{
  /** The session ended before the broker confirmed: publish it again on the next session. */
  SessionLost: { readonly reason: string }
  /** The broker refused it for now (a nack, no confirmation in time): the relay retries it later. */
  Failed: { readonly reason: string }
  /** The broker can never take it (unroutable, an invalid subject): dead-letter it. */
  Rejected: { readonly reason: string }
}>

/**
 * Constructors and matchers for `PublishFailure`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const PublishFailure = Data.taggedEnum<PublishFailure>()

// A publish's failure, or its defect (a throw while encoding the message) as a `Failed` of that message alone.
const publishFailureOf = (cause: Cause.Cause<PublishFailure>): PublishFailure =>
  Option.getOrElse(
    Cause.failureOption(cause),
    () => PublishFailure.Failed({ reason: `the sender died on this message: ${Cause.pretty(cause).split("\n")[0] ?? "unknown defect"}` })
  )

/**
 * Publishes one message on a session: the outer effect hands it to the
 * connection (in batch order), the inner one waits for the broker's confirmation.
 *
 * @category models
 * @since 0.1.0
 */
export type Publish<S> = (
  session: S,
  message: OutboxMessage
) => Effect.Effect<Effect.Effect<void, PublishFailure>, PublishFailure>

/**
 * The log message when unconfirmed publishes are published again (annotated with `messages`).
 *
 * @category constants
 * @since 0.1.0
 */
export const republishing = "Publishing again on the next session what a lost one left unconfirmed"

/**
 * A `Sender.send` over a supervisor that acks only what the broker confirmed.
 *
 * A batch is published in order, then every confirmation is awaited
 * concurrently. Messages whose session dropped before their confirmation are
 * published again on the next session **within the same call**: a lost
 * connection is not the message's fault, so it should cost no delivery
 * attempt and no retry delay, and the confirmed part of the batch is acked
 * at once. Whatever is still unconfirmed after `timeout` (which also bounds
 * waiting for a session) comes back `Failed`, and the relay retries it.
 * Either way nothing unconfirmed is acked: at-least-once holds, and a
 * re-publish whose first copy did reach the broker is a duplicate the
 * broker's dedupe (or the consumer's inbox) absorbs.
 *
 * Keep `timeout` below the relay's `sendTimeout`: the relay's timeout fails
 * the whole batch, confirmed messages included.
 *
 * @category constructors
 * @since 0.1.0
 */
export const sendConfirmed = <S>(
  supervisor: Supervisor<S>,
  publish: Publish<S>,
  options: { readonly timeout: Duration.DurationInput }
) => {
  const timeout = Duration.decode(options.timeout)
  return (batch: ReadonlyArray<OutboxMessage>): Effect.Effect<ReadonlyArray<SendResult>, SendError> =>
    Effect.gen(function*() {
      const results = new Map<MessageId, SendResult>()
      let pending: ReadonlyArray<OutboxMessage> = batch
      let lostReason: string | undefined

      const settle = (message: OutboxMessage, failure: PublishFailure): void => {
        switch (failure._tag) {
          case "Failed": {
            results.set(message.id, SendResult.Failed({ id: message.id, error: failure.reason }))
            break
          }
          case "Rejected": {
            results.set(message.id, SendResult.Rejected({ id: message.id, error: failure.reason }))
            break
          }
          case "SessionLost": {
            // Left pending: published again on the next session.
            lostReason = failure.reason
            break
          }
        }
      }

      const round = (session: S, handle: Handle) =>
        Effect.gen(function*() {
          // Hand every message to the connection first, in order, then wait for the confirmations together.
          const confirmations: Array<Effect.Effect<void, PublishFailure>> = []
          for (const message of pending) {
            confirmations.push(
              yield* Effect.suspend(() => publish(session, message)).pipe(
                // A defect (a throw while encoding this message) fails this message only.
                Effect.catchAllCause((cause) =>
                  Cause.isInterruptedOnly(cause)
                    ? Effect.interrupt
                    : Effect.succeed(Effect.fail(publishFailureOf(cause)))
                )
              )
            )
          }
          yield* Effect.forEach(pending, (message, index) =>
            (confirmations[index] ?? Effect.void).pipe(
              Effect.catchAllDefect((defect) => Effect.fail(publishFailureOf(Cause.die(defect)))),
              Effect.matchEffect({
                onFailure: (failure) => Effect.sync(() => settle(message, failure)),
                // Reported at the first confirmation: a drop later in the batch then spends no budget.
                onSuccess: () => Effect.zipRight(Effect.sync(() => results.set(message.id, SendResult.Sent({ id: message.id }))), handle.healthy)
              })
            ), { concurrency: "unbounded", discard: true })
          pending = pending.filter((message) => !results.has(message.id))
          if (pending.length > 0) {
            yield* handle.lost(lostReason ?? "publishes were lost")
            yield* Effect.logInfo(republishing).pipe(
              Effect.annotateLogs({ broker: supervisor.broker, messages: pending.length })
            )
          }
        })

      const rounds = Effect.gen(function*() {
        while (pending.length > 0) yield* supervisor.withSession(round)
      })

      const outcome = yield* rounds.pipe(Effect.timeoutOption(timeout), Effect.either)
      if (batch.every((message) => results.has(message.id))) {
        return batch.flatMap((message) => Option.toArray(Option.fromNullable(results.get(message.id))))
      }
      const why = Either.match(outcome, {
        onLeft: (error) => error.message,
        onRight: () =>
          `${supervisor.broker} did not confirm within ${Duration.format(timeout)}` +
          (lostReason === undefined ? "" : ` (session lost: ${lostReason})`)
      })
      // Nothing settled: one whole-batch error, which the relay logs once.
      if (results.size === 0) {
        return yield* new SendError({ reason: why, cause: Either.isLeft(outcome) ? outcome.left : undefined })
      }
      return batch.map((message) =>
        results.get(message.id) ?? SendResult.Failed({ id: message.id, error: why })
      )
    })
}
