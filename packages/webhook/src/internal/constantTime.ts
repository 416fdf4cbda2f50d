import { timingSafeEqual } from "node:crypto"

/**
 * Compares two byte strings in time that does not depend on where they
 * differ. Their lengths may leak, which is fine for signatures (their length
 * is public).
 */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b)
