import { createHash, timingSafeEqual } from "node:crypto"

const digest = (value: string): Uint8Array => createHash("sha256").update(value, "utf8").digest()

/**
 * Compares a presented secret (a bearer token) with the configured one
 * without leaking where they differ or how long the secret is: the SHA-256
 * digests, which always have the same length, are compared in constant time.
 */
export const equalSecrets = (presented: string, expected: string): boolean =>
  timingSafeEqual(digest(presented), digest(expected))
