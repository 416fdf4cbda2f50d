import { createHmac } from "node:crypto"
import * as Either from "effect/Either"

/** The prefix of a Standard Webhooks secret: `whsec_` followed by the key in base64. */
export const secretPrefix = "whsec_"

const base64 = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * The HMAC key of a secret. A `whsec_<base64>` secret (the Standard Webhooks
 * form) is the base64-decoded bytes; any other string is used as is (UTF-8).
 * The error never repeats the secret.
 */
export const decodeSecret = (secret: string): Either.Either<Uint8Array, string> => {
  if (secret.startsWith(secretPrefix)) {
    const encoded = secret.slice(secretPrefix.length)
    if (!base64.test(encoded)) {
      return Either.left(`a secret starting with "${secretPrefix}" must continue with the key in base64`)
    }
    return Either.right(Buffer.from(encoded, "base64"))
  }
  if (secret.length === 0) return Either.left("the secret is empty")
  return Either.right(Buffer.from(secret, "utf8"))
}

/** The base64 HMAC-SHA256 of `id.timestamp.body`, the signed content of Standard Webhooks. */
export const signature = (key: Uint8Array, id: string, timestamp: number, body: string | Uint8Array): string =>
  createHmac("sha256", key).update(`${id}.${timestamp}.`, "utf8").update(body).digest("base64")

/** The `webhook-signature` value for one key: the version tag and the signature. */
export const signatureHeader = (key: Uint8Array, id: string, timestamp: number, body: string | Uint8Array): string =>
  `v1,${signature(key, id, timestamp, body)}`
