import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name)
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }, 0)

/**
 * Vitest global setup: compiles the packages so `dist/bin.js` is current (tsc -b skips what is up to date),
 * and builds the dashboard page when its sources changed since it was last built.
 */
export default function buildBinary() {
  const root = fileURLToPath(new URL("../../..", import.meta.url))
  execFileSync(process.execPath, [fileURLToPath(new URL("../../../node_modules/typescript/bin/tsc", import.meta.url)), "-b", "packages/node"], {
    cwd: root,
    stdio: "inherit"
  })
  const dashboard = fileURLToPath(new URL("../dashboard", import.meta.url))
  const built = fileURLToPath(new URL("../dist/dashboard/index.html", import.meta.url))
  if (!existsSync(built) || statSync(built).mtimeMs < newest(dashboard)) {
    execFileSync(process.execPath, [
      fileURLToPath(new URL("../../../node_modules/vite/bin/vite.js", import.meta.url)),
      "build",
      "--config",
      join(dashboard, "vite.config.ts")
    ], { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: "inherit" })
  }
}
