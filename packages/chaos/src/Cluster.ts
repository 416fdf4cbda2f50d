/**
 * A throwaway Postgres cluster for one run: `initdb` into a temporary
 * directory with the installed binaries, started on a free port with fsync
 * off, restarted mid-run with `pg_ctl`, removed at the end. The run never
 * touches any other Postgres, so it is safe on a shared machine and in CI.
 */
import { execFile } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { freePort } from "./Ports.js"

const run = promisify(execFile)

/** The cluster could not be created or started; the message is one line saying why. */
export class ClusterError extends Error {}

/** A running cluster. */
export interface Cluster {
  readonly port: number
  readonly url: string
  /** Restarts the server (fast shutdown: sessions are cut); resolves once it accepts connections again. */
  readonly restart: () => Promise<void>
  /** Stops the server and removes its directory. */
  readonly destroy: () => Promise<void>
}

const findBinaries = async (): Promise<string> => {
  const fromConfig = await run("pg_config", ["--bindir"]).then((out) => out.stdout.trim(), () => "")
  if (fromConfig !== "" && existsSync(join(fromConfig, "initdb"))) return fromConfig
  const root = "/usr/lib/postgresql"
  const versions = existsSync(root)
    ? readdirSync(root).filter((name) => existsSync(join(root, name, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a))
    : []
  const newest = versions[0]
  if (newest === undefined) {
    throw new ClusterError("no Postgres server binaries found (initdb): install the Postgres server package, or put pg_config on PATH")
  }
  return join(root, newest, "bin")
}

/** Creates and starts a cluster; `ClusterError` with one line when it cannot. */
export const create = async (): Promise<Cluster> => {
  const bin = await findBinaries()
  const asRoot = process.getuid?.() === 0
  // initdb refuses to run as root: run the server's commands as `postgres` then.
  const command = (tool: string, args: ReadonlyArray<string>) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args]) : run(join(bin, tool), [...args])
  const dir = mkdtempSync(join(tmpdir(), "outbox-chaos-"))
  const data = join(dir, "data")
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  try {
    if (asRoot) {
      chmodSync(dir, 0o777)
    }
    await command("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
  } catch (error) {
    cleanup()
    throw new ClusterError(`cannot create a throwaway Postgres cluster with ${bin}/initdb: ${firstLine(error)}`)
  }
  const port = await freePort()
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200"
  ].join(" ")
  const ctl = (...args: ReadonlyArray<string>) => command("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", ...args])
  try {
    await ctl("-o", settings, "start")
  } catch (error) {
    cleanup()
    throw new ClusterError(`cannot start the throwaway Postgres cluster on port ${port}: ${firstLine(error)}`)
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: async () => {
      await ctl("-m", "fast", "-o", settings, "restart")
    },
    destroy: async () => {
      await ctl("-m", "immediate", "stop").catch(() => undefined)
      cleanup()
    }
  }
}

const firstLine = (error: unknown): string => {
  const text = error instanceof Error
    ? ("stderr" in error && typeof error.stderr === "string" && error.stderr.trim() !== "" ? error.stderr : error.message)
    : String(error)
  return text.trim().split("\n")[0] ?? ""
}
