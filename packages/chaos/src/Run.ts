/**
 * One chaos run in one mode: a throwaway cluster, the receiver, the proxy,
 * the producer and the relays, the faults while the producer publishes, then
 * the drain and the books.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ManagedRuntime from "effect/ManagedRuntime"
import pg from "pg"
import * as Accounting from "./Accounting.js"
import * as Cluster from "./Cluster.js"
import type { Mode, Options } from "./Options.js"
import * as Plan from "./Plan.js"
import * as Prng from "./Prng.js"
import * as Producer from "./Producer.js"
import * as Proxy from "./Proxy.js"
import * as Receiver from "./Receiver.js"
import * as Relays from "./Relays.js"
import * as Redacted from "effect/Redacted"

/** What one run found. */
export interface RunResult {
  readonly mode: Mode
  readonly claimMode: Options["claimMode"]
  readonly messages: number
  readonly keys: number
  readonly relays: number
  readonly seed: number
  readonly faults: Options["faults"]
  readonly injected: { readonly kills: number; readonly terms: number; readonly postgresRestarts: number; readonly connectionCuts: number }
  readonly receiver: Receiver.Counts
  readonly producer: Producer.Produced
  readonly relayProcesses: number
  readonly wallTimeMs: number
  readonly drainMs: number
  readonly books: Accounting.Books
  readonly ok: boolean
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Calls `step` every `every` ms (±25%, from the seed) until `stop` says so. */
const every = async (every: number, prng: Prng.Prng, stopped: () => boolean, step: () => void | Promise<void>) => {
  while (!stopped()) {
    await sleep(prng.between(Math.round(every * 0.75), Math.round(every * 1.25)))
    if (!stopped()) await step()
  }
}

const waitUntil = async (check: () => Promise<boolean> | boolean, deadlineMs: number): Promise<boolean> => {
  const deadline = performance.now() + deadlineMs
  while (performance.now() < deadline) {
    if (await check()) return true
    await sleep(100)
  }
  return false
}

const log = (line: string) => process.stderr.write(`chaos: ${line}\n`)

/** Runs `mode` with `options`; throws `ClusterError` when no cluster can be had. */
export const run = async (options: Options, mode: Mode, log_ = log): Promise<RunResult> => {
  const startedAt = performance.now()
  const now = () => Math.round(performance.now() - startedAt)
  const prng = Prng.make(options.seed + (mode === "ordered" ? 1 : 0))
  const cluster = await Cluster.create()
  const closers: Array<() => Promise<void>> = [cluster.destroy]
  try {
    log_(`${mode}: Postgres cluster on port ${cluster.port}; ${options.messages} messages over ${options.keys} keys, ${options.relays} relays`)
    const secret = Receiver.secret(prng)
    const receiver = await Receiver.start({
      secret,
      failRate: options.failRate,
      hangRate: options.hangRate,
      throttleRate: options.throttleRate,
      hangMs: options.sendTimeoutMs + 500,
      prng,
      now
    })
    closers.unshift(receiver.close)
    const proxy = options.faults.proxy ? await Proxy.start(cluster.port, { latencyMs: options.latencyMs, prng }) : undefined
    if (proxy !== undefined) closers.unshift(proxy.close)
    const relayUrl = `postgres://postgres@127.0.0.1:${proxy?.port ?? cluster.port}/postgres`

    const runtime = ManagedRuntime.make(Producer.layer(cluster.url))
    closers.unshift(() => runtime.dispose())
    await runtime.runPromise(Producer.prepare)
    const plan = Plan.make({ messages: options.messages, keys: options.keys, poisonRate: options.poisonRate, delayRate: 0.05 }, prng)
    const upfront = Math.round(plan.length * 0.3)
    const first = await runtime.runPromise(Producer.publish(plan.slice(0, upfront), { fibers: 2, spreadMs: 0, prng }))
    log_(`${mode}: ${upfront} messages published before the relays start`)

    const logDir = mkdtempSync(join(tmpdir(), `outbox-chaos-${mode}-logs-`))
    log_(`${mode}: relay logs in ${logDir}`)
    const relays = Relays.start({
      databaseUrl: relayUrl,
      receiverPort: receiver.port,
      secret: Redacted.value(secret),
      relays: options.relays,
      ordered: mode === "ordered",
      claimMode: options.claimMode,
      batchSize: options.batchSize,
      concurrency: options.concurrency,
      sendTimeoutMs: options.sendTimeoutMs,
      leaseMs: options.leaseMs,
      skewMs: options.faults.skew ? options.skewMs : undefined,
      logDir,
      binary: options.outboxBin ?? Relays.binary
    }, prng, now)
    let relaysStopped = false
    closers.unshift(async () => {
      if (!relaysStopped) await relays.stop(2_000)
    })
    await relays.allReady()
    log_(`${mode}: ${options.relays} relays ready after ${now()} ms; faults on, publishing the rest over ${options.publishFor / 1000} s`)

    const injected = { kills: 0, terms: 0, postgresRestarts: [] as Array<number>, connectionCuts: [] as Array<number> }
    let faultsOver = false
    const stopped = () => faultsOver
    const faults: Array<Promise<void>> = []
    if (options.faults.kill) {
      faults.push(every(options.killEvery, prng, stopped, () => {
        if (relays.signalRandom("SIGKILL") !== undefined) injected.kills++
      }))
    }
    if (options.faults.term) {
      faults.push(every(options.termEvery, prng, stopped, () => {
        if (relays.signalRandom("SIGTERM") !== undefined) injected.terms++
      }))
    }
    if (proxy !== undefined) {
      faults.push(every(options.cutEvery, prng, stopped, () => {
        if (proxy.cutOne()) injected.connectionCuts.push(now())
      }))
    }
    if (options.faults.restartPostgres) {
      faults.push((async () => {
        await sleep(options.publishFor * 0.4)
        const at = now()
        log_(`${mode}: restarting Postgres`)
        await cluster.restart().then(
          () => log_(`${mode}: Postgres back after ${now() - at} ms`),
          (error: unknown) => log_(`${mode}: Postgres restart failed: ${String(error)}`)
        )
        injected.postgresRestarts.push(at)
      })())
    }
    const rest = await runtime.runPromise(Producer.publish(plan.slice(upfront), { fibers: 2, spreadMs: options.publishFor, prng }))
      .finally(() => {
        faultsOver = true
      })
    // Every fault has stopped (and Postgres is up again) before the books are read.
    await Promise.all(faults)
    log_(`${mode}: all published at ${now()} ms; faults off, waiting for the drain`)

    const drainStartedAt = now()
    const admin = new pg.Client({ connectionString: cluster.url })
    await admin.connect()
    closers.unshift(() => admin.end())
    // Drained, or no progress for `stallMs`: a slow machine drains late, a stuck outbox not at all.
    const remaining = async () =>
      Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")).rows[0]?.n ?? "0")
    let lowest = Number.POSITIVE_INFINITY
    let progressAt = performance.now()
    const drained = await waitUntil(async () => {
      const left = await remaining()
      if (left < lowest) {
        lowest = left
        progressAt = performance.now()
      }
      return left === 0 || performance.now() - progressAt > options.drainStallMs
    }, options.drainDeadlineMs) && lowest === 0
    const drainMs = now() - drainStartedAt
    // Late answers to hung requests: the deliveries are recorded already; let them finish.
    await waitUntil(() => receiver.pending() === 0, options.sendTimeoutMs * 3)
    relaysStopped = true
    await relays.stop(15_000)

    const produced = (await admin.query<Accounting.ProducedRow>("SELECT key, seq, poison FROM chaos_produced")).rows
    const dead = (await admin.query<Accounting.DeadRow>(
      "SELECT payload->>'key' AS key, (payload->>'seq')::int AS seq, reason FROM outbox_dead_letters"
    )).rows
    const counts = receiver.counts()
    const books = Accounting.balance({
      produced,
      dead,
      deliveries: receiver.deliveries,
      processes: relays.processes,
      injected,
      limits: {
        relays: options.relays,
        batchSize: options.batchSize,
        concurrency: options.concurrency,
        ordered: mode === "ordered",
        ackWindowMs: options.leaseMs + options.sendTimeoutMs * (Math.ceil(options.batchSize / 10) + 1),
        leaseMs: options.leaseMs
      },
      badSignatures: counts.badSignatures,
      badSignatureReasons: counts.badSignatureReasons,
      drained
    })
    return {
      mode,
      claimMode: options.claimMode,
      messages: options.messages,
      keys: options.keys,
      relays: options.relays,
      seed: options.seed,
      faults: options.faults,
      injected: {
        kills: injected.kills,
        terms: injected.terms,
        postgresRestarts: injected.postgresRestarts.length,
        connectionCuts: injected.connectionCuts.length
      },
      receiver: counts,
      producer: {
        transactions: first.transactions + rest.transactions,
        retried: first.retried + rest.retried,
        inDoubtCommitted: first.inDoubtCommitted + rest.inDoubtCommitted
      },
      relayProcesses: relays.processes.length,
      wallTimeMs: now(),
      drainMs,
      books,
      ok: books.invariants.every((invariant) => invariant.ok)
    }
  } finally {
    for (const close of closers) await close().catch(() => undefined)
  }
}
