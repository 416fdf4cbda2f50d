/**
 * The relays under test: R `outbox run` processes of the built binary, each
 * in a slot that starts a new process whenever the last one ends. Every
 * process posts to its own receiver path, so each delivery names the process
 * that made it; kills, stops and exits are recorded to explain duplicates.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "./Ports.js"
import type { Prng } from "./Prng.js"

/** How a process ended. */
export type Ending = "SIGKILL" | "SIGTERM" | "on its own" | "end of run"

/** One `outbox run` process. */
export interface RelayProcess {
  readonly name: string
  readonly slot: number
  readonly skewed: boolean
  readonly startedAt: number
  readyAt: number | undefined
  endedBy: Ending | undefined
  /** When the signal was sent, or the exit seen when it ended on its own. */
  endedAt: number | undefined
  exitCode: number | null | undefined
  exitSignal: NodeJS.Signals | null | undefined
  /** The end of what it printed, for a report on a relay that exited on its own. */
  output: string
  /** Messages whose lease it lost before completing them, as it logged them ("fenced"). */
  fenced: number
  /** Batches it failed whole at its send timeout (every message retried, sent or not): when, and how many messages. */
  readonly failedBatches: Array<{ readonly at: number; readonly messages: number }>
}

/** The relays' settings. */
export interface Settings {
  readonly databaseUrl: string
  readonly receiverPort: number
  readonly secret: string
  readonly relays: number
  readonly ordered: boolean
  readonly claimMode: "lease" | "transactional"
  readonly batchSize: number
  readonly concurrency: number
  readonly sendTimeoutMs: number
  readonly leaseMs: number
  readonly skewMs: number | undefined
  /** Where each process's output is written, as `<name>.log`. */
  readonly logDir: string
  readonly binary: string
}

/** The running pool. */
export interface Relays {
  readonly processes: ReadonlyArray<RelayProcess>
  /** Sends `signal` to a random running process (a new one replaces it); its name. */
  readonly signalRandom: (signal: "SIGKILL" | "SIGTERM") => string | undefined
  /** Resolves when every slot has a process that answered /readyz once. */
  readonly allReady: () => Promise<void>
  /** Stops every process gracefully (SIGKILL after `graceMs`) and starts no more. */
  readonly stop: (graceMs: number) => Promise<void>
}

/** The `outbox` executable as installed: the runner package's bundle (see its scripts/bundle.mjs). */
export const binary = fileURLToPath(new URL("./bundle/bin.js", import.meta.resolve("@effect-outbox/node")))
const skewModule = fileURLToPath(new URL("./clockSkew.js", import.meta.url))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts the pool; `now` is the run's clock (ms since its start). */
export const start = (settings: Settings, prng: Prng, now: () => number): Relays => {
  const processes: Array<RelayProcess> = []
  const children = new Map<RelayProcess, { readonly child: ChildProcess; readonly exited: Promise<void> }>()
  const incarnations = new Array<number>(settings.relays).fill(0)
  let stopping = false

  const launch = async (slot: number): Promise<void> => {
    const incarnation = (incarnations[slot] ?? 0) + 1
    incarnations[slot] = incarnation
    const skewed = slot === 0 && settings.skewMs !== undefined
    const port = await freePort()
    const relay: RelayProcess = {
      name: `relay${slot}.${incarnation}`,
      slot,
      skewed,
      startedAt: now(),
      readyAt: undefined,
      endedBy: undefined,
      endedAt: undefined,
      exitCode: undefined,
      exitSignal: undefined,
      output: "",
      fenced: 0,
      failedBatches: []
    }
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      NO_COLOR: "1",
      OUTBOX_DATABASE_URL: settings.databaseUrl,
      OUTBOX_SENDER: `http://127.0.0.1:${settings.receiverPort}/r/${relay.name}`,
      OUTBOX_SIGNING_SECRET: settings.secret,
      OUTBOX_HTTP_PORT: String(port),
      OUTBOX_BATCH_SIZE: String(settings.batchSize),
      OUTBOX_CONCURRENCY: String(settings.concurrency),
      OUTBOX_POLL_INTERVAL: "500ms",
      OUTBOX_LEASE: `${settings.leaseMs}ms`,
      OUTBOX_SEND_TIMEOUT: `${settings.sendTimeoutMs}ms`,
      OUTBOX_SHUTDOWN_TIMEOUT: "5s",
      OUTBOX_RETRY: "exponential-jitter:base=200ms,cap=2s,attempts=10",
      OUTBOX_ORDERED: settings.ordered ? "true" : "false"
    }
    if (settings.claimMode !== "lease") env.OUTBOX_CLAIM_MODE = settings.claimMode
    if (skewed) env.CHAOS_CLOCK_SKEW_MS = String(settings.skewMs)
    const args = skewed ? ["--import", skewModule, settings.binary, "run"] : [settings.binary, "run"]
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })
    let partial = ""
    let batchFailing = false
    const file = createWriteStream(join(settings.logDir, `${relay.name}.log`))
    const keep = (chunk: Buffer) => {
      file.write(chunk)
      const text = chunk.toString()
      relay.output = (relay.output + text).slice(-4000)
      const lines = (partial + text).split("\n")
      partial = lines.pop() ?? ""
      for (const line of lines) {
        const fenced = /fenced: (\d+)/.exec(line)
        if (fenced !== null) relay.fenced += Number(fenced[1])
        if (line.includes("Sending a batch failed")) batchFailing = true
        const messages = batchFailing ? /messages: (\d+)/.exec(line) : null
        if (messages !== null) {
          relay.failedBatches.push({ at: now(), messages: Number(messages[1]) })
          batchFailing = false
        }
      }
    }
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    const exited = new Promise<void>((resolve) =>
      child.on("exit", (code, signal) => {
        file.end()
        relay.exitCode = code
        relay.exitSignal = signal
        relay.endedAt ??= now()
        relay.endedBy ??= "on its own"
        children.delete(relay)
        resolve()
        if (!stopping) void launch(slot)
      })
    )
    processes.push(relay)
    children.set(relay, { child, exited })
    void watchReadiness(relay, port)
  }

  const watchReadiness = async (relay: RelayProcess, port: number) => {
    while (relay.endedBy === undefined && children.has(relay)) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
        (response) => response.ok,
        () => false
      )
      if (ok) {
        relay.readyAt = now()
        return
      }
      await sleep(25)
    }
  }

  for (let slot = 0; slot < settings.relays; slot++) void launch(slot)

  return {
    processes,
    signalRandom: (signal) => {
      // A relay still starting has nothing in flight: faults go to relays at work.
      const target = prng.pick([...children.keys()].filter((relay) => relay.endedBy === undefined && relay.readyAt !== undefined))
      if (target === undefined) return undefined
      target.endedBy = signal
      target.endedAt = now()
      children.get(target)?.child.kill(signal)
      return target.name
    },
    allReady: async () => {
      for (;;) {
        const running = [...children.keys()]
        if (running.length === settings.relays && running.every((relay) => relay.readyAt !== undefined)) return
        await sleep(50)
      }
    },
    stop: async (graceMs) => {
      stopping = true
      const running = [...children.entries()]
      for (const [relay, { child }] of running) {
        relay.endedBy ??= "end of run"
        relay.endedAt ??= now()
        child.kill("SIGTERM")
      }
      await Promise.all(running.map(async ([, { child, exited }]) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
        await exited
        clearTimeout(timer)
      }))
    }
  }
}
