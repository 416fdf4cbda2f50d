/**
 * `npm run bench [-- --quick] [-- --only throughput,publish,latency,memory,pglite,ordered,cliff,redis]`:
 * prints a table of figures, each with the floor measured in the same run,
 * then any figure's detail (a query plan), and writes them to bench-results.json.
 */
import { writeFileSync } from "node:fs"
import os from "node:os"
import * as Cliff from "./cliff.js"
import { client, type Figure } from "./harness.js"
import * as Latency from "./latency.js"
import * as Memory from "./memory.js"
import * as Ordered from "./ordered.js"
import * as Pglite from "./pglite.js"
import * as Publish from "./publish.js"
import * as Redis from "./redis.js"
import * as Throughput from "./throughput.js"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const onlyIndex = args.indexOf("--only")
const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? "").split(",") : undefined

const scenarios: ReadonlyArray<readonly [string, (quick: boolean) => Promise<Array<Figure>>]> = [
  ["throughput", Throughput.run],
  ["publish", Publish.run],
  ["latency", Latency.run],
  ["memory", Memory.run],
  ["pglite", Pglite.run],
  ["ordered", Ordered.run],
  ["cliff", Cliff.run],
  ["redis", Redis.run]
]

const format = (value: number) =>
  Number.isNaN(value) ? "n/a" : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)

const main = async () => {
  const postgres = await client()
  const version = (await postgres.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version
  await postgres.end()
  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: version ?? "unknown",
    date: new Date().toISOString(),
    /** The 1/5/15-minute load average as each scenario started (a shared machine is noisy). */
    load: [] as Array<string>,
    command: `npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`
  }
  console.log(`effect-outbox benchmarks (${quick ? "quick" : "full"}): ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, Postgres ${machine.postgres}`)
  const figures: Array<Figure> = []
  for (const [name, run] of scenarios) {
    if (only !== undefined && !only.includes(name)) continue
    const started = performance.now()
    machine.load.push(`${name}: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`)
    process.stdout.write(`running ${name}… `)
    figures.push(...(await run(quick)))
    console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  console.log("")
  console.log("| id | figure | value | vs floor | ratio | target | note |")
  console.log("| --- | --- | ---: | --- | ---: | --- | --- |")
  for (const figure of figures) {
    const versus = figure.versus
    console.log(
      `| ${figure.id} | ${figure.name} | ${format(figure.value)} ${figure.unit} | ${versus === undefined ? "" : `${versus.name}: ${format(versus.value)}`} | ${
        versus === undefined ? "" : `${format(versus.ratio)}×`
      } | ${figure.target ?? ""} | ${figure.note ?? ""} |`
    )
  }
  for (const figure of figures) {
    if (figure.detail !== undefined) console.log(`\n${figure.name}:\n\n${figure.detail.replace(/^/gm, "    ")}`)
  }
  writeFileSync("bench-results.json", JSON.stringify({ machine, quick, figures }, null, 2) + "\n")
  console.log("\nwrote bench-results.json")
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("benchmark failed:", error)
    process.exit(1)
  }
)
