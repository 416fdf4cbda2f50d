import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

// The manifest conventions of RELEASING.md, checked on every public package:
// what an app installing them depends on (one copy of effect, versions that
// move together) must not drift when a package is added or edited.
const root = fileURLToPath(new URL("../../..", import.meta.url))

interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly sideEffects?: boolean | ReadonlyArray<string>
  readonly engines?: Record<string, string>
  readonly exports?: Record<string, unknown>
  readonly files?: ReadonlyArray<string>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly devDependencies?: Record<string, string>
}

const read = <A>(path: string): A => JSON.parse(readFileSync(join(root, path), "utf8")) as A
const workspaces = read<{ workspaces: ReadonlyArray<string> }>("package.json").workspaces
const packages = workspaces
  .map((dir) => ({ dir, manifest: read<Manifest>(`${dir}/package.json`) }))
  .filter(({ manifest }) => manifest.private !== true)
const versions = new Map(packages.map(({ manifest }) => [manifest.name, manifest.version]))
const isEffect = (name: string) => name === "effect" || name.startsWith("@effect/")

const parse = (version: string) => version.split(".").map(Number) as [number, number, number]
/** `version` satisfies `^low` (npm's caret: same major, or same minor while the major is 0). */
const inCaret = (version: string, low: string): boolean => {
  const [major, minor, patch] = parse(version)
  const [lowMajor, lowMinor, lowPatch] = parse(low)
  if (major !== lowMajor) return false
  if (lowMajor === 0) return minor === lowMinor && patch >= lowPatch
  return minor > lowMinor || (minor === lowMinor && patch >= lowPatch)
}

describe.each(packages)("$manifest.name", ({ dir, manifest }) => {
  it("takes effect and @effect/* as caret-ranged peers, pinned only in devDependencies", () => {
    const deps = Object.keys(manifest.dependencies ?? {})
    expect(deps.filter(isEffect), "effect packages in dependencies would install a second copy").toEqual([])
    const peers = Object.entries(manifest.peerDependencies ?? {}).filter(([name]) => isEffect(name))
    expect(peers.map(([name]) => name)).toContain("effect")
    for (const [name, range] of peers) {
      expect(range, name).toMatch(/^\^\d+\.\d+\.\d+$/)
      if (name === "effect") expect(range).toMatch(/^\^3\./)
      if (name !== "@effect/vitest") {
        const pinned = manifest.devDependencies?.[name]
        expect(pinned, `${name} pinned in devDependencies`).toMatch(/^\d+\.\d+\.\d+$/)
        expect(inCaret(pinned ?? "", range.slice(1)), `${name}: pinned ${pinned} is in the peer range ${range}`).toBe(true)
      }
    }
  })

  it("depends on its siblings with a caret range of their current version", () => {
    for (const field of ["dependencies", "peerDependencies", "devDependencies"] as const) {
      for (const [name, range] of Object.entries(manifest[field] ?? {})) {
        if (!name.startsWith("@effect-outbox/")) continue
        expect(range, `${field} ${name}`).toBe(`^${versions.get(name)}`)
      }
    }
  })

  it("ships what an app needs: exports, files, LICENSE, README, engines, sideEffects", () => {
    expect(manifest.exports?.["."]).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" })
    expect(manifest.exports?.["./internal/*"]).toBeNull()
    // The runner also ships its docs: the dashboard serves the HTTP API's reference from them.
    const docs = manifest.name === "@effect-outbox/node" ? ["docs"] : []
    expect(manifest.files).toEqual(["dist", ...docs, "src", "!dist/.tsbuildinfo"])
    expect(manifest.engines?.["node"]).toBe(">=20")
    expect(manifest.sideEffects).toBeDefined()
    expect(existsSync(join(root, dir, "LICENSE")), "LICENSE").toBe(true)
    expect(readFileSync(join(root, dir, "README.md"), "utf8"), "README install line").toContain("npm install @effect-outbox/")
  })
})

describe("@effect-outbox/webhook", () => {
  it("pulls in no runner, broker client, database driver or HTTP platform: a receiver needs only effect", () => {
    const webhook = read<Manifest & { peerDependenciesMeta?: Record<string, { optional?: boolean }> }>(
      "packages/webhook/package.json"
    )
    expect(Object.keys(webhook.dependencies ?? {})).toEqual(["@effect-outbox/core"])
    const required = Object.keys(webhook.peerDependencies ?? {}).filter(
      (name) => webhook.peerDependenciesMeta?.[name]?.optional !== true
    )
    expect(required).toEqual(["effect"])
  })
})
