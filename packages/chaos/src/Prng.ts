/**
 * A small seeded generator (mulberry32): a run's choices (which relay dies,
 * which request fails) come from `--seed`, so a failing run can be replayed
 * as far as timing allows.
 */

/** Numbers in [0, 1), the same sequence for the same seed. */
export interface Prng {
  readonly next: () => number
  /** An integer in [min, max]. */
  readonly between: (min: number, max: number) => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A | undefined
}

/** A generator seeded with `seed`. */
export const make = (seed: number): Prng => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
  const between = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  const pick = <A>(items: ReadonlyArray<A>): A | undefined => items[Math.floor(next() * items.length)]
  return { next, between, pick }
}
