/**
 * The options of a chaos run, from the command line. Every fault is on by
 * default and each has a `--no-…` switch; `--quick` is the CI size.
 */

/** How relays deliver in a run: unordered, or per key in publish order (dead letters block their key). */
export type Mode = "unordered" | "ordered"

/** How relays claim: leases (the default), or the transactional claim where the runner has it. */
export type ClaimMode = "lease" | "transactional"

/** The faults a run injects. */
export interface Faults {
  /** SIGKILL a random relay every ~`killEvery` ms and start a new one. */
  readonly kill: boolean
  /** SIGTERM a random relay now and then (the graceful path) and start a new one. */
  readonly term: boolean
  /** Restart the run's Postgres once, mid-run. */
  readonly restartPostgres: boolean
  /** Relays reach Postgres through a proxy that adds latency and cuts connections. */
  readonly proxy: boolean
  /** One relay's clock is skewed (relays must go by the database's `now()`). */
  readonly skew: boolean
}

/** Everything a run needs to know. */
export interface Options {
  readonly modes: ReadonlyArray<Mode>
  readonly claimMode: ClaimMode
  readonly quick: boolean
  readonly messages: number
  readonly keys: number
  readonly relays: number
  /** How long the producer keeps publishing while relays run (the fault window), ms. */
  readonly publishFor: number
  readonly seed: number
  readonly faults: Faults
  readonly killEvery: number
  readonly termEvery: number
  readonly cutEvery: number
  readonly latencyMs: number
  readonly skewMs: number
  /** The receiver's shares of requests: 5xx, hangs past the send timeout, 429 with Retry-After. */
  readonly failRate: number
  readonly hangRate: number
  readonly throttleRate: number
  /** Share of messages the receiver always rejects (400): dead-lettered as Rejected. */
  readonly poisonRate: number
  /** The relays' settings. */
  readonly batchSize: number
  readonly concurrency: number
  readonly sendTimeoutMs: number
  readonly leaseMs: number
  /** The drain fails when nothing was delivered for this long, or after `drainDeadlineMs` in all. */
  readonly drainStallMs: number
  readonly drainDeadlineMs: number
  readonly output: string
  /** The `outbox` executable to run; default the runner package's bundle. */
  readonly outboxBin: string | undefined
}

/** A bad command line: one line saying what to do. */
export class UsageError extends Error {}

const usage = `usage: npm run chaos -- [--quick] [--mode unordered,ordered] [--claim-mode lease|transactional]
  [--messages N] [--keys N] [--relays N] [--publish-for SECONDS] [--seed N] [--output FILE] [--outbox-bin FILE]
  [--no-kill] [--no-term] [--no-restart-postgres] [--no-proxy] [--no-skew]`

const positiveInteger = (flag: string, text: string | undefined): number => {
  const value = Number(text)
  if (text === undefined || !Number.isInteger(value) || value < 1) {
    throw new UsageError(`${flag} takes a positive integer, got ${text === undefined ? "nothing" : JSON.stringify(text)}\n${usage}`)
  }
  return value
}

/** Parses the arguments after `npm run chaos --`. */
export const parse = (args: ReadonlyArray<string>): Options => {
  const quick = args.includes("--quick")
  let modes: ReadonlyArray<Mode> = ["unordered", "ordered"]
  let claimMode: ClaimMode = "lease"
  let messages = quick ? 3_000 : 20_000
  let keys = quick ? 200 : 300
  let relays = 3
  let publishFor = quick ? 15_000 : 45_000
  let seed = 16
  let output = "chaos-results.json"
  let outboxBin: string | undefined
  const faults = { kill: true, term: true, restartPostgres: true, proxy: true, skew: true }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const next = () => args[++i]
    switch (arg) {
      case "--quick":
        break
      case "--mode": {
        const text = next() ?? ""
        const parsed = text.split(",").map((mode) => mode.trim())
        if (parsed.length === 0 || !parsed.every((mode): mode is Mode => mode === "unordered" || mode === "ordered")) {
          throw new UsageError(`--mode takes unordered, ordered or both (comma-separated), got ${JSON.stringify(text)}\n${usage}`)
        }
        modes = parsed
        break
      }
      case "--claim-mode": {
        const text = next()
        if (text !== "lease" && text !== "transactional") {
          throw new UsageError(`--claim-mode takes lease or transactional, got ${JSON.stringify(text ?? "")}\n${usage}`)
        }
        claimMode = text
        break
      }
      case "--messages":
        messages = positiveInteger(arg, next())
        break
      case "--keys":
        keys = positiveInteger(arg, next())
        break
      case "--relays":
        relays = positiveInteger(arg, next())
        break
      case "--publish-for":
        publishFor = positiveInteger(arg, next()) * 1000
        break
      case "--seed":
        seed = positiveInteger(arg, next())
        break
      case "--output":
        output = next() ?? output
        break
      case "--outbox-bin":
        outboxBin = next()
        break
      case "--no-kill":
        faults.kill = false
        break
      case "--no-term":
        faults.term = false
        break
      case "--no-restart-postgres":
        faults.restartPostgres = false
        break
      case "--no-proxy":
        faults.proxy = false
        break
      case "--no-skew":
        faults.skew = false
        break
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n${usage}`)
    }
  }
  return {
    modes,
    claimMode,
    quick,
    messages,
    keys,
    relays,
    publishFor,
    seed,
    faults,
    killEvery: 2_000,
    termEvery: 7_000,
    cutEvery: 3_000,
    latencyMs: 2,
    skewMs: -90_000,
    failRate: 0.2,
    hangRate: 0.05,
    throttleRate: 0.03,
    poisonRate: 0.002,
    batchSize: 50,
    concurrency: 2,
    sendTimeoutMs: 2_000,
    leaseMs: 15_000,
    drainStallMs: 60_000,
    drainDeadlineMs: 900_000,
    output,
    outboxBin
  }
}
