import * as WebhookSignature from "@effect-outbox/webhook/WebhookSignature"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, TestClock } from "effect"

// The published test vector of the Standard Webhooks specification.
const vector = {
  secret: Redacted.make("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: "{\"test\": 2432232314}",
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
}

const headersOf = (signature: string, timestamp = vector.timestamp) => ({
  "webhook-id": vector.id,
  "webhook-timestamp": String(timestamp),
  "webhook-signature": signature
})

const atVectorTime = TestClock.setTime(vector.timestamp * 1000)

describe("WebhookSignature", () => {
  it.effect("signs exactly like the Standard Webhooks reference", () =>
    Effect.gen(function*() {
      expect(yield* WebhookSignature.sign(vector.secret, vector)).toBe(vector.signature)
    }))

  it.effect("verifies a request signed with the secret and returns its id and timestamp", () =>
    Effect.gen(function*() {
      yield* atVectorTime
      const verified = yield* WebhookSignature.verify(vector.secret, headersOf(vector.signature), vector.body)
      expect(verified).toEqual({ id: vector.id, timestamp: vector.timestamp })
    }))

  it.effect("fails with another secret", () =>
    Effect.gen(function*() {
      yield* atVectorTime
      const other = Redacted.make("whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=")
      const error = yield* Effect.flip(WebhookSignature.verify(other, headersOf(vector.signature), vector.body))
      expect(error).toMatchObject({ _tag: "WebhookVerificationError", reason: "InvalidSignature" })
    }))

  it.effect("fails when the body was changed after signing", () =>
    Effect.gen(function*() {
      yield* atVectorTime
      const tampered = vector.body.replace("2432232314", "2432232315")
      const error = yield* Effect.flip(WebhookSignature.verify(vector.secret, headersOf(vector.signature), tampered))
      expect(error).toMatchObject({ reason: "InvalidSignature" })
    }))

  it.effect("fails when the id was changed after signing", () =>
    Effect.gen(function*() {
      yield* atVectorTime
      const headers = { ...headersOf(vector.signature), "webhook-id": "msg_other" }
      const error = yield* Effect.flip(WebhookSignature.verify(vector.secret, headers, vector.body))
      expect(error).toMatchObject({ reason: "InvalidSignature" })
    }))

  it.effect("refuses a timestamp older or newer than the tolerance, and accepts one at its edge", () =>
    Effect.gen(function*() {
      const verify = WebhookSignature.verify(vector.secret, headersOf(vector.signature), vector.body, {
        tolerance: "5 minutes"
      })
      yield* TestClock.setTime((vector.timestamp + 300) * 1000)
      expect((yield* verify).id).toBe(vector.id)
      yield* TestClock.setTime((vector.timestamp + 301) * 1000)
      const stale = yield* Effect.flip(verify)
      expect(stale).toMatchObject({ reason: "TimestampOutOfTolerance" })
      expect(stale.message).toContain("301 s old")

      // A signature made for a time in the future is refused too (the clock is 10 minutes behind).
      yield* TestClock.setTime(0)
      const future = yield* Effect.flip(
        WebhookSignature.verify(vector.secret, headersOf(vector.signature), vector.body)
      )
      expect(future).toMatchObject({ reason: "TimestampOutOfTolerance" })
    }))

  it.effect("a re-signed stale request is still refused: the timestamp is part of the signed content", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime((vector.timestamp + 3600) * 1000)
      // An attacker replaying the request with a fresh timestamp cannot produce a matching signature.
      const replayed = headersOf(vector.signature, vector.timestamp + 3600)
      const error = yield* Effect.flip(WebhookSignature.verify(vector.secret, replayed, vector.body))
      expect(error).toMatchObject({ reason: "InvalidSignature" })
    }))

  it.effect("accepts any of several signatures (secret rotation) and headers in any case", () =>
    Effect.gen(function*() {
      yield* atVectorTime
      const headers = {
        "Webhook-Id": vector.id,
        "WEBHOOK-TIMESTAMP": String(vector.timestamp),
        "webhook-signature": `v1,bm90IHRoZSByaWdodCBzaWduYXR1cmUgYXQgYWxs ${vector.signature}`
      }
      expect((yield* WebhookSignature.verify(vector.secret, headers, Buffer.from(vector.body))).id).toBe(vector.id)
    }))

  it.effect("names a missing header and a malformed timestamp", () =>
    Effect.gen(function*() {
      yield* atVectorTime
      const { "webhook-signature": _, ...unsigned } = headersOf(vector.signature)
      const missing = yield* Effect.flip(WebhookSignature.verify(vector.secret, unsigned, vector.body))
      expect(missing).toMatchObject({ reason: "MissingHeader", message: expect.stringContaining("webhook-signature") })
      const malformed = yield* Effect.flip(
        WebhookSignature.verify(vector.secret, { ...headersOf(vector.signature), "webhook-timestamp": "soon" }, vector.body)
      )
      expect(malformed).toMatchObject({ reason: "InvalidTimestamp" })
    }))

  it.effect("a raw secret is used as is; a whsec_ secret is base64-decoded", () =>
    Effect.gen(function*() {
      yield* atVectorTime
      const raw = Redacted.make("a plain shared secret")
      const signature = yield* WebhookSignature.sign(raw, vector)
      expect((yield* WebhookSignature.verify(raw, headersOf(signature), vector.body)).id).toBe(vector.id)
      // The same key written in the whsec_ form signs identically.
      const encoded = Redacted.make(`whsec_${Buffer.from("a plain shared secret").toString("base64")}`)
      expect(yield* WebhookSignature.sign(encoded, vector)).toBe(signature)
    }))

  it.effect("an unusable secret fails without repeating it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WebhookSignature.sign(Redacted.make("whsec_not base64 at all!"), vector))
      expect(error._tag).toBe("WebhookSecretError")
      expect(error.message).not.toContain("not base64 at all")
      expect(error.message).toContain("base64")
    }))
})
