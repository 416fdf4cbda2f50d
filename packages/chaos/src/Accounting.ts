/**
 * The books of a run: every produced message is delivered or dead-lettered
 * (lost = 0), nothing is delivered that was not produced, duplicates stay
 * within what the injected faults explain, first deliveries keep each key's
 * order in ordered mode, and no relay exits on its own.
 */
import type { Delivery } from "./Receiver.js"
import type { RelayProcess } from "./Relays.js"

/** A produced message, from the business table. */
export interface ProducedRow {
  readonly key: string
  readonly seq: number
  readonly poison: boolean
}

/** A dead letter, from the dead-letter table. */
export interface DeadRow {
  readonly key: string
  readonly seq: number
  readonly reason: string
}

/** What was injected. */
export interface Injected {
  readonly kills: number
  readonly terms: number
  readonly postgresRestarts: ReadonlyArray<number>
  readonly connectionCuts: ReadonlyArray<number>
}

/** Relay settings the bounds depend on. */
export interface Limits {
  readonly relays: number
  readonly batchSize: number
  readonly concurrency: number
  readonly ordered: boolean
  /** How long after a cut or restart a lost ack can still show as a redelivery (lease + send backstop), ms. */
  readonly ackWindowMs: number
  readonly leaseMs: number
}

/** Why a message was delivered again, judged from its previous delivery. */
export type DuplicateSource =
  | "receiver answered late"
  | "relay killed"
  | "relay stopped"
  | "ack lost to a cut or restart"
  | "lease lost (relay too slow to ack)"
  | "relay timed out a whole batch"
  | "relay timed out an answer"
  | "unexplained"

/** One invariant and whether it held. */
export interface Invariant {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

/** The books. */
export interface Books {
  readonly produced: number
  readonly deliveries: number
  readonly deliveredUnique: number
  readonly lost: number
  readonly lostSample: ReadonlyArray<string>
  readonly phantom: number
  readonly duplicates: number
  readonly duplicateSources: Record<DuplicateSource, number>
  readonly duplicateBounds: Record<DuplicateSource, number>
  readonly unexplainedSample: ReadonlyArray<string>
  readonly deadLetters: Record<string, number>
  readonly orderViolations: number
  readonly orderViolationSample: ReadonlyArray<string>
  readonly relaysExitedOnTheirOwn: ReadonlyArray<{ readonly name: string; readonly code: number | null; readonly output: string }>
  readonly failedGracefulStops: ReadonlyArray<string>
  readonly startToReadyMs: {
    readonly count: number
    readonly median: number
    readonly p90: number
    readonly max: number
    readonly firstStartMedian: number
  }
  readonly invariants: ReadonlyArray<Invariant>
}

const id = (key: string, seq: number) => `${key}#${seq}`

const percentile = (values: ReadonlyArray<number>, p: number) => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
}

const sourceOf = (
  previous: Delivery,
  current: Delivery,
  processes: ReadonlyMap<string, RelayProcess>,
  injected: Injected,
  limits: Limits
): DuplicateSource => {
  if (previous.late) return "receiver answered late"
  const sender = processes.get(previous.process)
  const endedAt = sender?.endedAt
  if (sender !== undefined && endedAt !== undefined && endedAt >= previous.at && endedAt <= current.at) {
    if (sender.endedBy === "SIGKILL") return "relay killed"
    if (sender.endedBy === "SIGTERM") return "relay stopped"
  }
  const within = (at: number) => at >= previous.at - limits.ackWindowMs && at <= current.at
  if (injected.connectionCuts.some(within) || injected.postgresRestarts.some(within)) return "ack lost to a cut or restart"
  if (sender?.failedBatches.some((batch) => batch.at >= previous.at && batch.at <= current.at) === true) {
    return "relay timed out a whole batch"
  }
  // Within its lease only its holder could hand it back: the relay settled a 2xx as failed (its own timeout).
  if (current.at - previous.at < limits.leaseMs) return "relay timed out an answer"
  if ((sender?.fenced ?? 0) > 0) return "lease lost (relay too slow to ack)"
  return "unexplained"
}

/** Balances the books of a run. */
export const balance = (input: {
  readonly produced: ReadonlyArray<ProducedRow>
  readonly dead: ReadonlyArray<DeadRow>
  readonly deliveries: ReadonlyArray<Delivery>
  readonly processes: ReadonlyArray<RelayProcess>
  readonly injected: Injected
  readonly limits: Limits
  readonly badSignatures: number
  readonly badSignatureReasons: Record<string, number>
  readonly drained: boolean
}): Books => {
  const { deliveries, injected, limits } = input
  const produced = new Map(input.produced.map((row) => [id(row.key, row.seq), row]))
  const processes = new Map(input.processes.map((relay) => [relay.name, relay]))
  const byMessage = new Map<string, Array<Delivery>>()
  for (const delivery of deliveries) {
    const name = id(delivery.key, delivery.seq)
    const list = byMessage.get(name)
    if (list === undefined) byMessage.set(name, [delivery])
    else list.push(delivery)
  }
  const deadNames = new Set(input.dead.map((row) => id(row.key, row.seq)))
  const deadLetters: Record<string, number> = {}
  for (const row of input.dead) deadLetters[row.reason] = (deadLetters[row.reason] ?? 0) + 1
  const lost = [...produced.keys()].filter((name) => !byMessage.has(name) && !deadNames.has(name))
  const phantom = [...byMessage.keys(), ...deadNames].filter((name) => !produced.has(name)).length
  const poison = input.produced.filter((row) => row.poison)
  const rejectedAsExpected = input.dead.filter((row) => row.reason === "Rejected").every((row) => produced.get(id(row.key, row.seq))?.poison === true)
  const poisonDead = poison.every((row) => input.dead.some((dead) => dead.key === row.key && dead.seq === row.seq && dead.reason === "Rejected"))

  const duplicateSources: Record<DuplicateSource, number> = {
    "receiver answered late": 0,
    "relay killed": 0,
    "relay stopped": 0,
    "ack lost to a cut or restart": 0,
    "lease lost (relay too slow to ack)": 0,
    "relay timed out a whole batch": 0,
    "relay timed out an answer": 0,
    "unexplained": 0
  }
  const unexplainedSample: Array<string> = []
  for (const list of byMessage.values()) {
    for (let i = 1; i < list.length; i++) {
      const previous = list[i - 1]
      const current = list[i]
      if (previous === undefined || current === undefined) continue
      const source = sourceOf(previous, current, processes, injected, limits)
      duplicateSources[source]++
      if (source === "unexplained" && unexplainedSample.length < 20) {
        const sender = processes.get(previous.process)
        unexplainedSample.push(
          `${previous.key}#${previous.seq}: ${previous.process} at ${previous.at} ms (ended ${sender?.endedBy ?? "-"} at ${sender?.endedAt ?? "-"}), again by ${current.process} at ${current.at} ms`
        )
      }
    }
  }
  const duplicates = deliveries.length - byMessage.size
  const perBatch = limits.batchSize * limits.concurrency
  const duplicateBounds: Record<DuplicateSource, number> = {
    "receiver answered late": deliveries.filter((delivery) => delivery.late).length,
    "relay killed": injected.kills * perBatch,
    "relay stopped": injected.terms * perBatch,
    "ack lost to a cut or restart": (injected.connectionCuts.length + injected.postgresRestarts.length * limits.relays * limits.concurrency) *
      limits.batchSize,
    // What the relays themselves reported losing the lease of before completing.
    "lease lost (relay too slow to ack)": input.processes.reduce((sum, relay) => sum + relay.fenced, 0),
    // Every message of a batch the relays failed at their batch timeout, as they logged them.
    "relay timed out a whole batch": input.processes.reduce(
      (sum, relay) => sum + relay.failedBatches.reduce((total, batch) => total + batch.messages, 0),
      0
    ),
    // Not caused by an injected fault: an answer the relay could not read within its send timeout (CPU starvation).
    // Reported, and bounded by the share of requests the relays timed out, which no injected fault sets: Infinity.
    "relay timed out an answer": Number.POSITIVE_INFINITY,
    "unexplained": 0
  }

  // Per key, first deliveries in arrival order: one arriving after a later sequence number is a violation.
  const orderViolationSample: Array<string> = []
  let orderViolations = 0
  const firstByKey = new Map<string, Array<Delivery>>()
  for (const list of byMessage.values()) {
    const first = list[0]
    if (first === undefined) continue
    const keyList = firstByKey.get(first.key)
    if (keyList === undefined) firstByKey.set(first.key, [first])
    else keyList.push(first)
  }
  for (const [key, list] of firstByKey) {
    let highest = 0
    for (const delivery of list.sort((a, b) => a.arrival - b.arrival)) {
      if (delivery.seq < highest) {
        orderViolations++
        if (orderViolationSample.length < 10) orderViolationSample.push(`${key}: #${delivery.seq} first delivered after #${highest}`)
      }
      highest = Math.max(highest, delivery.seq)
    }
  }

  const relaysExitedOnTheirOwn = input.processes
    .filter((relay) => relay.endedBy === "on its own")
    .map((relay) => ({ name: relay.name, code: relay.exitCode ?? null, output: relay.output.slice(-1500) }))
  const failedGracefulStops = input.processes
    // A process stopped before it was ready may die of the signal before its handlers exist: nothing was in flight.
    .filter((relay) =>
      (relay.endedBy === "SIGTERM" || relay.endedBy === "end of run") && relay.readyAt !== undefined && relay.exitCode !== 0 &&
      relay.exitCode !== undefined
    )
    .map((relay) => `${relay.name} (exit ${relay.exitCode ?? relay.exitSignal})`)
  const readyTimes = input.processes.flatMap((relay) => relay.readyAt === undefined ? [] : [relay.readyAt - relay.startedAt])
  const firstStarts = input.processes.flatMap((relay) =>
    relay.readyAt !== undefined && relay.name.endsWith(".1") ? [relay.readyAt - relay.startedAt] : []
  )
  const boundTotal = Object.values(duplicateBounds).filter(Number.isFinite).reduce((a, b) => a + b, 0) +
    duplicateSources["relay timed out an answer"]
  const overBound = (Object.keys(duplicateSources) as Array<DuplicateSource>).filter((source) => duplicateSources[source] > duplicateBounds[source])

  const invariants: Array<Invariant> = [
    { name: "drained", ok: input.drained, detail: input.drained ? "nothing left in the outbox" : "the outbox did not drain before the deadline" },
    { name: "lost = 0", ok: lost.length === 0, detail: `${lost.length} produced messages neither delivered nor dead-lettered` },
    { name: "phantom = 0", ok: phantom === 0, detail: `${phantom} delivered or dead-lettered messages that were never committed` },
    {
      name: "dead letters as expected",
      ok: rejectedAsExpected && poisonDead,
      detail: `every poison message (${poison.length}) dead-lettered as Rejected, and nothing else Rejected`
    },
    {
      name: "duplicates within bound",
      ok: overBound.length === 0,
      detail: `${duplicates} ≤ ${boundTotal}; per source: ${
        (Object.keys(duplicateSources) as Array<DuplicateSource>).map((source) => `${source} ${duplicateSources[source]} ≤ ${Number.isFinite(duplicateBounds[source]) ? duplicateBounds[source] : "∞"}`).join(", ")
      }`
    },
    {
      name: "order kept",
      ok: !limits.ordered || orderViolations === 0,
      detail: `${orderViolations} first deliveries out of their key's order${limits.ordered ? "" : " (unordered mode: not required)"}`
    },
    {
      name: "no relay exited on its own",
      ok: relaysExitedOnTheirOwn.length === 0,
      detail: relaysExitedOnTheirOwn.length === 0 ? "0" : relaysExitedOnTheirOwn.map((relay) => `${relay.name} (exit ${relay.code})`).join(", ")
    },
    {
      name: "graceful stops exit 0",
      ok: failedGracefulStops.length === 0,
      detail: failedGracefulStops.length === 0 ? "every SIGTERM ended with exit 0" : failedGracefulStops.join(", ")
    },
    { name: "signatures verified", ok: input.badSignatures === 0, detail: `${input.badSignatures} requests failed verification${
        input.badSignatures === 0 ? "" : ` (${Object.entries(input.badSignatureReasons).map(([why, n]) => `${why}: ${n}`).join(", ")})`
      }` }
  ]
  return {
    produced: produced.size,
    deliveries: deliveries.length,
    deliveredUnique: byMessage.size,
    lost: lost.length,
    lostSample: lost.slice(0, 10),
    phantom,
    duplicates,
    duplicateSources,
    duplicateBounds,
    unexplainedSample,
    deadLetters,
    orderViolations,
    orderViolationSample,
    relaysExitedOnTheirOwn,
    failedGracefulStops,
    startToReadyMs: {
      count: readyTimes.length,
      median: percentile(readyTimes, 50),
      p90: percentile(readyTimes, 90),
      max: percentile(readyTimes, 100),
      firstStartMedian: percentile(firstStarts, 50)
    },
    invariants
  }
}
