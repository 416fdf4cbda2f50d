// Lints the packages as published: packs them (scripts/pack.mjs) into a
// temporary folder, then runs publint (--strict) and are-the-types-wrong
// (ESM-only profile: the packages are ESM, a CommonJS `require` is not
// supported) on each tarball, with every public module as an entry point.
// Works offline: both tools read the local tarballs.
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const bin = (name) => join(root, "node_modules", ".bin", name)
const out = mkdtempSync(join(tmpdir(), "outbox-lint-"))
let failed = 0
try {
  execFileSync(process.execPath, [join(root, "scripts", "pack.mjs"), out], { stdio: ["ignore", "ignore", "inherit"] })
  const { workspaces } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
  for (const dir of workspaces) {
    const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"))
    if (manifest.private === true) continue
    const tarball = join(out, `${manifest.name.replace("@", "").replace("/", "-")}-${manifest.version}.tgz`)
    // Each top-level module is a subpath (`@effect-outbox/core/Relay`), plus the explicit ones.
    const modules = readdirSync(join(root, dir, "src"))
      .filter((file) => file.endsWith(".ts") && file !== "index.ts")
      .map((file) => `./${file.slice(0, -3)}`)
    const explicit = Object.keys(manifest.exports).filter((key) => !key.includes("*") && key !== "./package.json")
    const entrypoints = [...new Set([...explicit, ...modules])]
    for (const [tool, args] of [
      ["publint", ["run", tarball, "--strict", "--level", "warning"]],
      ["attw", [tarball, "--profile", "esm-only", "--format", "ascii", "--no-summary", "--entrypoints", ...entrypoints]]
    ]) {
      try {
        execFileSync(bin(tool), args, { stdio: ["ignore", "pipe", "pipe"] })
      } catch (error) {
        failed++
        console.error(`${tool} ${manifest.name}:\n${error.stdout ?? ""}${error.stderr ?? ""}`)
      }
    }
    console.log(`${manifest.name}: publint and attw checked ${entrypoints.length} entry points`)
  }
} finally {
  rmSync(out, { recursive: true, force: true })
}
if (failed > 0) {
  console.error(`${failed} package check(s) failed`)
  process.exit(1)
}
