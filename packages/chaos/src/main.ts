/**
 * `npm run chaos [-- --quick] [-- --mode unordered,ordered] [-- --no-kill …]`:
 * runs the fault-injection suite against the built `outbox` binary, prints a
 * table per mode, writes chaos-results.json, and exits 1 when any invariant
 * fails (2 on a bad command line).
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import os from "node:os"
import { ClusterError } from "./Cluster.js"
import * as Options from "./Options.js"
import { binary } from "./Relays.js"
import * as Run from "./Run.js"

const ms = (value: number) => (Number.isNaN(value) ? "n/a" : value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`)

const bound = (value: number) => (Number.isFinite(value) ? String(value) : "none: not an injected fault")

const table = (result: Run.RunResult) => {
  const { books } = result
  const share = (n: number) => `${n} (${((100 * n) / Math.max(1, books.produced)).toFixed(1)}%)`
  const rows: Array<readonly [string, string]> = [
    ["mode", `${result.mode}, ${result.claimMode} claims`],
    ["produced", `${books.produced} (${result.producer.transactions} transactions, ${result.producer.retried} retried, ${result.producer.inDoubtCommitted} in doubt but committed)`],
    ["delivered (unique)", String(books.deliveredUnique)],
    ["lost", String(books.lost)],
    ["phantom (never committed)", String(books.phantom)],
    ["duplicates", share(books.duplicates)],
    ...Object.entries(books.duplicateSources).map(([source, count]) =>
      [`  from ${source}`, `${count} (bound ${bound(books.duplicateBounds[source as keyof typeof books.duplicateBounds])})`] as const
    ),
    ["dead letters", Object.entries(books.deadLetters).map(([reason, n]) => `${reason} ${n}`).join(", ") || "0"],
    ["order violations (first deliveries)", `${books.orderViolations}${result.mode === "ordered" ? "" : " (not required)"}`],
    ["relays exited on their own", String(books.relaysExitedOnTheirOwn.length)],
    ["faults", `${result.injected.kills} SIGKILL, ${result.injected.terms} SIGTERM, ${result.injected.postgresRestarts} Postgres restart, ${result.injected.connectionCuts} connections cut${result.faults.skew ? ", one relay's clock 90 s behind" : ""}`],
    ["receiver", `${result.receiver.requests} requests: ${result.receiver.failed} 5xx, ${result.receiver.hung} hung past the timeout, ${result.receiver.throttled} 429, ${result.receiver.rejected} 400`],
    ["relay processes", String(result.relayProcesses)],
    ["start to ready", `median ${ms(books.startToReadyMs.median)}, p90 ${ms(books.startToReadyMs.p90)}, max ${ms(books.startToReadyMs.max)} over ${books.startToReadyMs.count} starts (first starts: median ${ms(books.startToReadyMs.firstStartMedian)})`],
    ["drain after the last publish", ms(result.drainMs)],
    ["wall time", ms(result.wallTimeMs)]
  ]
  const width = Math.max(...rows.map(([name]) => name.length))
  const lines = rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`)
  const checks = books.invariants.map((invariant) => `${invariant.ok ? "ok  " : "FAIL"}  ${invariant.name}: ${invariant.detail}`)
  const details = [
    ...books.lostSample.map((name) => `lost: ${name}`),
    ...books.unexplainedSample.map((line) => `unexplained duplicate: ${line}`),
    ...books.orderViolationSample.map((line) => `order: ${line}`),
    ...books.relaysExitedOnTheirOwn.map((relay) => `${relay.name} exited with ${relay.code}; it printed:\n${relay.output}`)
  ]
  return [...lines, "", ...checks, ...(details.length > 0 ? ["", ...details] : [])].join("\n")
}

const main = async () => {
  let options: Options.Options
  try {
    options = Options.parse(process.argv.slice(2))
  } catch (error) {
    if (error instanceof Options.UsageError) {
      process.stderr.write(`chaos: ${error.message}\n`)
      return 2
    }
    throw error
  }
  if (options.claimMode === "transactional") {
    const help = execFileSync(process.execPath, [options.outboxBin ?? binary, "run", "--help"], { encoding: "utf8" })
    if (!help.includes("claim-mode")) {
      process.stderr.write("chaos: this build of `outbox run` has no transactional claim mode (OUTBOX_CLAIM_MODE); use --claim-mode lease\n")
      return 2
    }
  }
  const results: Array<Run.RunResult> = []
  for (const mode of options.modes) {
    try {
      const result = await Run.run(options, mode)
      results.push(result)
      process.stdout.write(`\n${table(result)}\n\n`)
    } catch (error) {
      if (error instanceof ClusterError) {
        process.stderr.write(`chaos: ${error.message}\n`)
        // In CI a missing cluster is a failure; on a user's machine it is a skip, said once.
        return process.env.CI === "true" ? 1 : 0
      }
      throw error
    }
  }
  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`
  }
  writeFileSync(
    options.output,
    JSON.stringify({ command: `npm run chaos -- ${process.argv.slice(2).join(" ")}`.trim(), machine, runs: results }, null, 2)
  )
  const ok = results.every((result) => result.ok)
  process.stdout.write(`${ok ? "chaos: every invariant held" : "chaos: INVARIANTS BROKEN"} (${results.map((result) => `${result.mode} ${result.ok ? "ok" : "FAILED"}`).join(", ")}); results in ${options.output}\n`)
  return ok ? 0 : 1
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  }
)
