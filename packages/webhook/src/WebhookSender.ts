/**
 * A `Sender` that POSTs each message as JSON to a webhook URL, signed the
 * Standard Webhooks way (https://www.standardwebhooks.com).
 *
 * The request:
 * - body (default, `body: "envelope"`): the Standard Webhooks envelope
 *   `{"type": <topic>, "timestamp": <createdAt, ISO 8601>, "data": <payload>}`;
 *   with `body: "payload"` the bare payload instead;
 * - `webhook-id` (the message id: dedupe on it), `webhook-timestamp` (seconds,
 *   at send time), `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
 *   only when a secret is configured);
 * - `outbox-topic`, `outbox-attempt` (failed sends so far plus one: 1 on the
 *   first delivery), `outbox-key` (when the message has one) and the
 *   `traceparent`/`tracestate` captured at publish (left out when they are not
 *   printable ASCII). `outbox-topic` and `outbox-key` are percent-encoded
 *   (`headerValue`): HTTP header values cannot carry non-ASCII text, so every
 *   UTF-8 byte outside printable ASCII, and `%` itself, is sent as `%XX`. An
 *   ASCII topic without `%` is sent as is; `decodeURIComponent` gives back the
 *   raw value, which the envelope's `type` also carries.
 *
 * The response: 2xx → `Sent`; 408, 429, 5xx, a network error or the timeout →
 * `Failed` (retried per policy, not before a `Retry-After` in seconds or as an
 * HTTP date); 3xx (redirects are not followed: configure the final URL), any
 * other 4xx, or a request the HTTP client refuses to build (an invalid header
 * value) → `Rejected` (dead-lettered at once: trying again cannot help).
 * Errors name the status and the URL without its credentials or query, and
 * never contain the secret.
 *
 * @example
 * import { Config, Effect, Layer } from "effect"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { WebhookSender } from "@effect-outbox/webhook"
 *
 * const SenderLive = Layer.unwrapEffect(
 *   Effect.map(Config.redacted("WEBHOOK_SECRET"), (secret) =>
 *     WebhookSender.layer({ url: "https://example.com/webhooks", secret, timeout: "10 seconds" }))
 * ).pipe(Layer.provide(NodeHttpClient.layerUndici))
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Sender } from "@effect-outbox/core"
import * as MessageHeaders from "@effect-outbox/core/MessageHeaders"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { STATUS_CODES } from "node:http"
import type { OutboxMessage } from "@effect-outbox/core/Message"
import * as Redact from "@effect-outbox/core/Redact"
import { decodeSecret, signatureHeader } from "./internal/standardWebhooks.js"

/**
 * How to reach the webhook. Only `url` is required.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * Where to POST. Credentials in the URL (`https://user:pass@host/…`) are sent
   * as a Basic `Authorization` header and never appear in errors.
   */
  readonly url: string | URL
  /** The signing secret, `whsec_<base64>` or any string; without one, requests are not signed. */
  readonly secret?: Redacted.Redacted<string> | undefined
  /** Per request, response body included. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Extra headers on every request; `Redacted` values are kept out of errors and traces. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /** Requests in flight at once per batch. Default 10. */
  readonly concurrency?: number | undefined
  /** The body: the Standard Webhooks envelope (default) or the bare payload. */
  readonly body?: "envelope" | "payload" | undefined
  /** The longest `Retry-After` honoured; a longer one is cut to this. Default 1 hour. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

/**
 * The defaults of the optional settings.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  timeout: Duration.seconds(10),
  concurrency: 10,
  body: "envelope",
  maxRetryAfter: Duration.hours(1)
} as const

/**
 * The Standard Webhooks body: what happened (`type`, the topic), when (`timestamp`) and the payload (`data`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Envelope {
  readonly type: string
  /** When the message was published, ISO 8601. */
  readonly timestamp: string
  readonly data: unknown
}

/**
 * The outbox's own request headers, besides the Standard Webhooks ones (defined in core's `MessageHeaders.outbox`).
 *
 * @category constants
 * @since 0.1.0
 */
export const headerNames = MessageHeaders.outbox

const printableAscii = /^[\x21-\x7e]*$/

/**
 * A value as an HTTP header can carry it: unchanged when it is printable ASCII
 * without `%`, otherwise percent-encoded (each UTF-8 byte outside printable
 * ASCII, and `%`, as `%XX`). `decodeURIComponent` reverses it.
 *
 * @category utils
 * @since 0.1.0
 */
export const headerValue = (value: string): string =>
  printableAscii.test(value) && !value.includes("%")
    ? value
    : Array.from(new TextEncoder().encode(value), (byte) =>
      byte > 0x20 && byte < 0x7f && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("")

/**
 * A setting is unusable; `setting` names it. The message never repeats a secret or a URL's credentials.
 *
 * @category errors
 * @since 0.1.0
 */
export class WebhookConfigError extends Data.TaggedError("WebhookConfigError")<{
  readonly setting: "url" | "secret" | "timeout" | "concurrency"
  readonly detail: string
}> {
  override get message() {
    return `Invalid webhook ${this.setting}: ${this.detail}`
  }
}

interface Target {
  readonly url: URL
  readonly display: string
  readonly headers: Readonly<Record<string, string>>
  readonly redactedNames: ReadonlyArray<string>
  readonly key: Option.Option<Uint8Array>
  readonly scrub: (text: string) => string
}

const parseUrl = (input: string | URL): Either.Either<URL, WebhookConfigError> => {
  const url = URL.canParse(String(input)) ? new URL(String(input)) : undefined
  // The input is not echoed: it may hold credentials.
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return Either.left(
      new WebhookConfigError({ setting: "url", detail: "expected an absolute http(s) URL, like https://example.com/webhooks" })
    )
  }
  return Either.right(url)
}

// A malformed escape (`%zz`) is kept as written rather than failing.
const decodeComponent = (component: string): string =>
  Either.getOrElse(Either.try(() => decodeURIComponent(component)), () => component)

const resolveTarget = (options: Options): Either.Either<Target, WebhookConfigError> =>
  Either.gen(function*() {
    const url = yield* parseUrl(options.url)
    const secretText = options.secret === undefined ? undefined : Redacted.value(options.secret)
    const key = secretText === undefined
      ? Option.none()
      : Option.some(yield* Either.mapLeft(decodeSecret(secretText), (detail) =>
        new WebhookConfigError({ setting: "secret", detail })))
    // The URL as given is scrubbed from foreign error texts only when it carries something beyond its display form.
    const revealing = url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== ""
    const secrets: Array<string> = revealing
      ? [String(options.url), url.href, url.search, url.password, ...url.searchParams.values()]
      : []
    if (secretText !== undefined) secrets.push(secretText, secretText.replace(/^whsec_/, ""))
    const headers: Record<string, string> = {}
    const redactedNames: Array<string> = []
    if (url.username !== "" || url.password !== "") {
      const password = decodeComponent(url.password)
      const basic = `Basic ${Buffer.from(`${decodeComponent(url.username)}:${password}`).toString("base64")}`
      headers["authorization"] = basic
      redactedNames.push("authorization")
      secrets.push(password, basic)
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      const lower = name.toLowerCase()
      if (Redacted.isRedacted(value)) {
        headers[lower] = Redacted.value(value)
        redactedNames.push(lower)
        secrets.push(Redacted.value(value))
      } else {
        headers[lower] = value
      }
    }
    const bare = new URL(url.href)
    bare.username = ""
    bare.password = ""
    return { url: bare, display: Redact.displayUrl(url), headers, redactedNames, key, scrub: Redact.scrubber(secrets) }
  })

/**
 * The request body of a message, as sent and as signed. A payload with no
 * JSON text (a bigint, a cycle: possible only with an in-memory store) fails.
 */
const encodeBody = (message: OutboxMessage, body: "envelope" | "payload"): Either.Either<string, string> =>
  Either.try({
    // `undefined` is the one JSON-shaped value without JSON text: it is sent as null.
    try: () =>
      JSON.stringify(
        body === "payload"
          ? message.payload
          : { type: message.topic, timestamp: message.createdAt.toISOString(), data: message.payload } satisfies Envelope
      ) ?? "null",
    catch: (error) => `the payload cannot be sent as JSON: ${error instanceof Error ? error.message : String(error)}`
  })

/** The delay a `Retry-After` header asks for (delta-seconds or an HTTP date), capped at `max`. */
const retryAfter = (
  response: HttpClientResponse.HttpClientResponse,
  now: number,
  max: Duration.Duration
): Duration.Duration | undefined => {
  const value = response.headers["retry-after"]?.trim()
  if (value === undefined || value === "") return undefined
  const millis = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now
  if (Number.isNaN(millis)) return undefined
  return Duration.min(Duration.millis(Math.max(0, millis)), max)
}

const excerpt = (text: string): string => {
  const line = text.replace(/\s+/g, " ").trim()
  if (line === "") return ""
  return `: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`
}

/** Why a transport failed, from the client's cause (undici and node errors carry a code, sometimes nested). */
const transportReason = (error: HttpClientError.HttpClientError): string => {
  const describe = (cause: unknown): string => {
    if (cause instanceof AggregateError && cause.errors.length > 0) return cause.errors.map(describe).join("; ")
    if (!(cause instanceof Error)) return error.reason
    const code = "code" in cause && typeof cause.code === "string" ? cause.code : undefined
    const text = cause.message !== "" ? cause.message : code ?? cause.name
    return code !== undefined && !text.includes(code) ? `${code} ${text}` : text
  }
  return describe(error.cause)
}

// Error codes of a request the client refuses before sending it (an invalid header
// value, a bad argument): the same message would be refused again, so it is permanent.
const refusedCodes = ["UND_ERR_INVALID_ARG", "ERR_INVALID_CHAR", "ERR_INVALID_HTTP_TOKEN", "ERR_HTTP_INVALID_HEADER_VALUE"]

const refusedToBuild = (error: HttpClientError.HttpClientError): boolean => {
  if (error._tag === "RequestError" && (error.reason === "Encode" || error.reason === "InvalidUrl")) return true
  const cause: unknown = error.cause
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  return typeof code === "string" && refusedCodes.includes(code)
}

const deliver = (
  client: HttpClient.HttpClient,
  target: Target,
  settings: { readonly timeout: Duration.Duration; readonly body: "envelope" | "payload"; readonly maxRetryAfter: Duration.Duration },
  message: OutboxMessage
): Effect.Effect<Sender.SendResult> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const timestamp = Math.floor(now / 1000)
    const encoded = encodeBody(message, settings.body)
    if (Either.isLeft(encoded)) {
      return Sender.SendResult.Rejected({ id: message.id, error: encoded.left, reason: "Undecodable" })
    }
    const body = encoded.right
    // Configured headers may replace the user agent, never the protocol headers that follow.
    const headers: Record<string, string> = {
      "user-agent": "effect-outbox",
      ...target.headers,
      [MessageHeaders.webhook.id]: message.id,
      [MessageHeaders.webhook.timestamp]: String(timestamp),
      [headerNames.topic]: headerValue(message.topic),
      [headerNames.attempt]: String(message.attempts)
    }
    if (message.key !== null) headers[headerNames.key] = headerValue(message.key)
    for (const name of MessageHeaders.traceContext) {
      const value: unknown = message.headers[name]
      // Trace context is a hint: one that no header can carry is left out, never a reason to fail.
      if (typeof value === "string" && /^[\x20-\x7e]*$/.test(value)) headers[name] = value
    }
    if (Option.isSome(target.key)) {
      headers[MessageHeaders.webhook.signature] = signatureHeader(target.key.value, message.id, timestamp, body)
    }
    const request = HttpClientRequest.post(target.url).pipe(
      HttpClientRequest.setHeaders(headers),
      HttpClientRequest.bodyText(body, "application/json")
    )
    const failed = (error: string, after?: Duration.Duration) =>
      Sender.SendResult.Failed({ id: message.id, error: target.scrub(error), retryAfter: after })
    return yield* client.execute(request).pipe(
      // The body is read (and so the connection freed for reuse) within the timeout;
      // a 2xx whose body breaks off is still delivered.
      Effect.flatMap((response) =>
        Effect.map(Effect.orElseSucceed(response.text, () => ""), (text) => {
          const status = response.status
          if (status >= 200 && status < 300) return Sender.SendResult.Sent({ id: message.id })
          const answer = `HTTP ${status} ${STATUS_CODES[status] ?? ""}`.trim()
          // Scrubbed before it is cut short, so no prefix of a secret survives the cut.
          const error = `${target.display} answered ${answer}${excerpt(target.scrub(text))}`
          if (status >= 300 && status < 400) {
            return Sender.SendResult.Rejected({
              id: message.id,
              error: target.scrub(`${error} (redirects are not followed: configure the final URL)`)
            })
          }
          if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
            return Sender.SendResult.Rejected({ id: message.id, error: target.scrub(error) })
          }
          return failed(error, retryAfter(response, now, settings.maxRetryAfter))
        })
      ),
      Effect.timeoutTo({
        duration: settings.timeout,
        onSuccess: (result): Sender.SendResult => result,
        onTimeout: () => failed(`request to ${target.display} timed out after ${Duration.format(settings.timeout)}`)
      }),
      Effect.catchAll((error) => {
        const reason = `request to ${target.display} failed: ${transportReason(error)}`
        return Effect.succeed(
          refusedToBuild(error)
            ? Sender.SendResult.Rejected({ id: message.id, error: target.scrub(`${reason} (the request cannot be built; not retried)`) })
            : failed(reason)
        )
      }),
      // Keep the configured secret headers out of the client's span attributes.
      Effect.locallyWith(Headers.currentRedactedNames, (names) => [...names, ...target.redactedNames])
    )
  })

/**
 * Makes the webhook sender. Fails with `WebhookConfigError` on an unusable URL,
 * secret, timeout or concurrency.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (
  options: Options
) => Effect.Effect<Context.Tag.Service<Sender.Sender>, WebhookConfigError, HttpClient.HttpClient> = Effect.fn(
  "WebhookSender.make"
)(function*(options: Options) {
  const target = yield* resolveTarget(options)
  const timeout = Duration.decodeUnknown(options.timeout ?? defaults.timeout).pipe(
    Option.filter((duration) => Duration.greaterThan(duration, Duration.zero))
  )
  if (Option.isNone(timeout)) {
    return yield* new WebhookConfigError({ setting: "timeout", detail: "expected a positive duration, like \"10 seconds\"" })
  }
  const concurrency = options.concurrency ?? defaults.concurrency
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    return yield* new WebhookConfigError({ setting: "concurrency", detail: "expected a whole number of at least 1" })
  }
  // The stored traceparent is the publisher's context: it is sent as is, not replaced by the send span's.
  const client = HttpClient.withTracerPropagation(yield* HttpClient.HttpClient, false)
  const settings = {
    timeout: timeout.value,
    body: options.body ?? defaults.body,
    maxRetryAfter: Duration.decode(options.maxRetryAfter ?? defaults.maxRetryAfter)
  }
  return yield* Sender.perMessage((message) => deliver(client, target, settings, message), { concurrency })
})

/**
 * The webhook sender as the `Sender` layer; needs an `HttpClient` (e.g. `NodeHttpClient.layerUndici`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Sender.Sender, WebhookConfigError, HttpClient.HttpClient> =>
  Layer.effect(Sender.Sender, make(options))
