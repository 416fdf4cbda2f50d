/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): how the
 * webhook sender signs a request and how a receiver checks it.
 *
 * The signed content is `${webhook-id}.${webhook-timestamp}.${body}`, signed
 * with HMAC-SHA256; the `webhook-signature` header carries `v1,<base64>` (several
 * space-separated signatures while a secret is rotated). The secret is either in
 * the Standard Webhooks form `whsec_<base64 key>` or any other string, used as
 * the key as is (UTF-8).
 *
 * @example
 * import { Config, Effect } from "effect"
 * import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
 *
 * declare const request: { readonly headers: WebhookSignature.HeadersInput }
 * declare const rawBody: Uint8Array
 *
 * // In a receiver, with the raw request body (not re-serialised JSON).
 * // Fails with WebhookVerificationError on a bad signature or a stale timestamp.
 * const checked = Effect.flatMap(Config.redacted("WEBHOOK_SECRET"), (secret) =>
 *   WebhookSignature.verify(secret, request.headers, rawBody))
 *
 * @since 0.1.0
 */
import * as MessageHeaders from "@effect-outbox/core/MessageHeaders"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { equalBytes } from "./internal/constantTime.js"
import { decodeSecret, signature, signatureHeader } from "./internal/standardWebhooks.js"

/**
 * The header names of a signed request (defined in core's `MessageHeaders.webhook`).
 *
 * @category constants
 * @since 0.1.0
 */
export const headerNames = MessageHeaders.webhook

/**
 * How far a request's timestamp may be from now before it is refused: 5 minutes, as Standard Webhooks advises.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultTolerance: Duration.Duration = Duration.minutes(5)

/**
 * The signing secret is unusable. The message never contains the secret.
 *
 * @category errors
 * @since 0.1.0
 */
export class WebhookSecretError extends Data.TaggedError("WebhookSecretError")<{
  readonly detail: string
}> {
  override get message() {
    return `Invalid webhook signing secret: ${this.detail}`
  }
}

/**
 * Checks a signing secret without using it: `undefined` when the sender and
 * `verify` accept it, otherwise what is wrong with it (never the secret
 * itself), the `detail` of the `WebhookSecretError` they would fail with.
 * For validating configuration up front.
 *
 * @category utils
 * @since 0.1.0
 */
export const secretProblem = (secret: string): string | undefined =>
  Either.match(decodeSecret(secret), { onLeft: (problem) => problem, onRight: () => undefined })

/**
 * Why a request failed verification.
 *
 * @category models
 * @since 0.1.0
 */
export type VerificationFailure = "MissingHeader" | "InvalidTimestamp" | "TimestampOutOfTolerance" | "InvalidSignature"

/**
 * A request did not verify: answer it with 401 (or 400) and do not process it.
 *
 * @category errors
 * @since 0.1.0
 */
export class WebhookVerificationError extends Data.TaggedError("WebhookVerificationError")<{
  readonly reason: VerificationFailure
  readonly detail: string
}> {
  override get message() {
    return `Webhook verification failed: ${this.detail}`
  }
}

/**
 * Request headers as servers hand them over (`node:http`, `@effect/platform`): names in any case.
 *
 * @category models
 * @since 0.1.0
 */
export type HeadersInput = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * What a verified request says about itself. `id` is the idempotency key to dedupe on.
 *
 * @category models
 * @since 0.1.0
 */
export interface Verified {
  readonly id: string
  /** The signing time, in seconds since the epoch. */
  readonly timestamp: number
}

/**
 * Verification options.
 *
 * @category models
 * @since 0.1.0
 */
export interface VerifyOptions {
  /** How far the timestamp may be from now, either way (replay protection). Default 5 minutes. */
  readonly tolerance?: Duration.DurationInput | undefined
}

/**
 * The content to sign: the message id, the time in seconds since the epoch, and the exact body bytes.
 *
 * @category models
 * @since 0.1.0
 */
export interface SignInput {
  readonly id: string
  readonly timestamp: number
  readonly body: string | Uint8Array
}

const keyOf = (secret: Redacted.Redacted<string>): Either.Either<Uint8Array, WebhookSecretError> =>
  Either.mapLeft(decodeSecret(Redacted.value(secret)), (detail) => new WebhookSecretError({ detail }))

/**
 * Signs `id.timestamp.body` with the secret: the value of the
 * `webhook-signature` header (`v1,<base64 HMAC-SHA256>`).
 *
 * @category operations
 * @since 0.1.0
 */
export const sign: (
  secret: Redacted.Redacted<string>,
  input: SignInput
) => Effect.Effect<string, WebhookSecretError> = Effect.fn("WebhookSignature.sign")(
  function*(secret: Redacted.Redacted<string>, input: SignInput) {
    const key = yield* keyOf(secret)
    return signatureHeader(key, input.id, input.timestamp, input.body)
  }
)

const header = (headers: HeadersInput, name: string): string | undefined => {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue
    const first = typeof value === "string" ? value : value?.[0]
    if (first !== undefined && first.length > 0) return first
  }
  return undefined
}

const required = (headers: HeadersInput, name: string): Either.Either<string, WebhookVerificationError> => {
  const value = header(headers, name)
  return value === undefined
    ? Either.left(new WebhookVerificationError({ reason: "MissingHeader", detail: `the ${name} header is missing` }))
    : Either.right(value)
}

/**
 * Verifies a signed request: the headers must carry an id, a timestamp within
 * `tolerance` of now (from `Clock`) and at least one `v1` signature matching
 * the body under the secret, compared in constant time. Pass the body exactly
 * as received: re-serialised JSON does not verify.
 *
 * @category operations
 * @since 0.1.0
 */
export const verify: (
  secret: Redacted.Redacted<string>,
  headers: HeadersInput,
  body: string | Uint8Array,
  options?: VerifyOptions
) => Effect.Effect<Verified, WebhookVerificationError | WebhookSecretError> = Effect.fn("WebhookSignature.verify")(
  function*(secret: Redacted.Redacted<string>, headers: HeadersInput, body: string | Uint8Array, options?: VerifyOptions) {
    const key = yield* keyOf(secret)
    const id = yield* required(headers, headerNames.id)
    const rawTimestamp = yield* required(headers, headerNames.timestamp)
    const signatures = yield* required(headers, headerNames.signature)
    if (!/^\d{1,15}$/.test(rawTimestamp)) {
      return yield* new WebhookVerificationError({
        reason: "InvalidTimestamp",
        detail: `the ${headerNames.timestamp} header must be whole seconds since the epoch`
      })
    }
    const timestamp = Number(rawTimestamp)
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const tolerance = Math.floor(Duration.toSeconds(options?.tolerance ?? defaultTolerance))
    if (Math.abs(now - timestamp) > tolerance) {
      return yield* new WebhookVerificationError({
        reason: "TimestampOutOfTolerance",
        detail: `the timestamp is ${Math.abs(now - timestamp)} s ${
          timestamp < now ? "old" : "in the future"
        }; at most ${tolerance} s is accepted`
      })
    }
    const expected = Buffer.from(signature(key, id, timestamp, body), "base64")
    const matches = signatures.split(" ").some((candidate) => {
      const [version, value] = candidate.split(",", 2)
      return version === "v1" && value !== undefined && equalBytes(Buffer.from(value, "base64"), expected)
    })
    if (!matches) {
      return yield* new WebhookVerificationError({
        reason: "InvalidSignature",
        detail: "no v1 signature matches the body under the configured secret"
      })
    }
    return { id, timestamp }
  }
)
