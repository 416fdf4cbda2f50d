/**
 * What a run publishes, decided up front from the seed: N messages over K
 * keys, each with its key's next sequence number; a few delayed; the last
 * message of some keys is poison (the receiver always rejects it, so it is
 * dead-lettered as Rejected; being last, it parks nothing behind it).
 */
import type { Prng } from "./Prng.js"

/** One message to publish. */
export interface Planned {
  readonly key: string
  readonly seq: number
  readonly poison: boolean
  /** Deliver no earlier than this long after commit, ms; 0 for none. */
  readonly delayMs: number
}

/** The plan's options. */
export interface PlanOptions {
  readonly messages: number
  readonly keys: number
  readonly poisonRate: number
  readonly delayRate: number
}

/** The messages in publish order, sequence numbers from 1 per key. */
export const make = (options: PlanOptions, prng: Prng): ReadonlyArray<Planned> => {
  const next = new Map<string, number>()
  const plan: Array<{ key: string; seq: number; poison: boolean; delayMs: number }> = []
  for (let i = 0; i < options.messages; i++) {
    const key = `k${prng.between(0, options.keys - 1)}`
    const seq = (next.get(key) ?? 0) + 1
    next.set(key, seq)
    const delayMs = prng.next() < options.delayRate ? prng.between(500, 4_000) : 0
    plan.push({ key, seq, poison: false, delayMs })
  }
  // Poison the last message of a few keys.
  const poisoned = Math.max(1, Math.round(options.messages * options.poisonRate))
  const keys = [...next.keys()]
  for (let i = 0; i < poisoned && keys.length > 0; i++) {
    const key = keys.splice(prng.between(0, keys.length - 1), 1)[0]
    for (let j = plan.length - 1; j >= 0; j--) {
      const message = plan[j]
      if (message !== undefined && message.key === key) {
        message.poison = true
        break
      }
    }
  }
  return plan
}
