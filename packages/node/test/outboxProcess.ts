import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The built executable (see buildBinary.ts). */
export const binary = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

/** A running `outbox` process and everything it printed so far. */
export interface OutboxProcess {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

/** Starts `outbox …args` with only the given OUTBOX_* variables (nothing inherited from the test's env). */
export const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}, cwd?: string): OutboxProcess => {
  const child = spawn(process.execPath, [binary, ...args], {
    env: { PATH: process.env.PATH ?? "", NO_COLOR: "1", ...env },
    cwd,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

/** Runs `outbox …args` to the end; its exit code and output. */
export const runToEnd = async (args: ReadonlyArray<string>, env: Record<string, string> = {}, cwd?: string) => {
  const process = start(args, env, cwd)
  const code = await process.exited
  return { code, output: process.output() }
}
