/**
 * Preloaded (`node --import`) into one relay: shifts its wall clock by
 * `CHAOS_CLOCK_SKEW_MS`, before anything reads it. Effect's Clock derives
 * from `Date.now`, so the relay's whole notion of "now" is off; leases and
 * due times must come from the database's `now()` for the run to stay clean.
 */
const skew = Number(process.env.CHAOS_CLOCK_SKEW_MS ?? "0")
const realNow = Date.now.bind(Date)
Date.now = () => realNow() + skew

export {}
