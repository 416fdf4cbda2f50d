import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

/** Vitest global setup: compiles the packages so `dist/bin.js` is current (tsc -b skips what is up to date). */
export default function buildBinary() {
  const root = fileURLToPath(new URL("../../..", import.meta.url))
  execFileSync(process.execPath, [fileURLToPath(new URL("../../../node_modules/typescript/bin/tsc", import.meta.url)), "-b", "packages/node"], {
    cwd: root,
    stdio: "inherit"
  })
}
