// `npm run pack`: one tarball per public workspace package, all in one folder
// (`.pack/` by default, or the folder given as the first argument). It builds
// first (`npm run build`: tsc -b, incremental, then the runner's dashboard page
// and executable bundle) and deletes the outputs in `dist/` whose source file no
// longer exists, so no stale module ends up in a tarball.
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = resolve(process.argv[2] ?? join(root, ".pack"))
const { workspaces } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))

const publicPackages = workspaces
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) }))
  .filter(({ manifest }) => manifest.private !== true)

// dist/Foo.js, dist/Foo.d.ts, dist/Foo.js.map, dist/Foo.d.ts.map come from src/Foo.ts.
// dist/bundle and dist/dashboard are not compiled from src/ but built by their own
// steps (the runner's executable bundle and dashboard page), rebuilt below.
const outputOf = /^(.*)(\.d\.ts|\.js)(\.map)?$/
const builtApart = new Set(["bundle", "dashboard"])
const removeOrphans = (dist, src, top = true) => {
  for (const entry of readdirSync(dist, { withFileTypes: true })) {
    const path = join(dist, entry.name)
    if (entry.isDirectory()) {
      if (top && builtApart.has(entry.name)) continue
      removeOrphans(path, join(src, entry.name), false)
      continue
    }
    const match = outputOf.exec(entry.name)
    if (match !== null && !existsSync(join(src, `${match[1]}.ts`))) rmSync(path)
  }
}
for (const { dir } of publicPackages) {
  if (existsSync(join(root, dir, "dist"))) removeOrphans(join(root, dir, "dist"), join(root, dir, "src"))
}
const npm = process.platform === "win32" ? "npm.cmd" : "npm"
execFileSync(npm, ["run", "build", "--silent"], { cwd: root, stdio: "inherit" })

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
execFileSync(npm, ["pack", "--silent", "--pack-destination", out, ...publicPackages.flatMap(({ manifest }) => ["-w", manifest.name])], {
  cwd: root,
  stdio: ["ignore", "ignore", "inherit"]
})
const tarballs = readdirSync(out).filter((file) => file.endsWith(".tgz")).sort()
if (tarballs.length !== publicPackages.length) {
  console.error(`expected ${publicPackages.length} tarballs in ${out}, found ${tarballs.length}`)
  process.exit(1)
}
for (const tarball of tarballs) console.log(join(out, tarball))
