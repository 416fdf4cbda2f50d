import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

// Every TypeScript snippet in the root README is a `#region readme-…` of a
// file that CI type-checks (and, for tests, runs): the README cannot drift.
const root = fileURLToPath(new URL("../../..", import.meta.url))

const snippets = (markdown: string) =>
  Array.from(markdown.matchAll(/```ts\n([\s\S]*?)```/g), (match) => (match[1] ?? "").trim())

const regions = (): Map<string, string> => {
  const found = new Map<string, string>()
  for (const pkg of readdirSync(join(root, "packages"))) {
    for (const dir of ["examples", "test"]) {
      let files: Array<string> = []
      try {
        files = readdirSync(join(root, "packages", pkg, dir)).filter((file) => file.endsWith(".ts"))
      } catch {
        continue // a package without that folder
      }
      for (const file of files) {
        const text = readFileSync(join(root, "packages", pkg, dir, file), "utf8")
        for (const match of text.matchAll(/\/\/ #region (readme-[\w-]+)\n([\s\S]*?)\/\/ #endregion/g)) {
          found.set(match[1] ?? "", (match[2] ?? "").trim())
        }
      }
    }
  }
  return found
}

// The root README and the package READMEs whose snippets are all checked regions.
const readmes = ["README.md", "packages/core/README.md", "packages/webhook/README.md"]

describe.each(readmes)("%s", (path) => {
  it("every TypeScript snippet is a checked region of an example or test", () => {
    const readme = readFileSync(join(root, path), "utf8")
    const known = new Set(regions().values())
    const blocks = snippets(readme)
    expect(blocks.length).toBeGreaterThan(0)
    for (const block of blocks) {
      expect(known.has(block), `README snippet not found in any #region readme-…:\n${block.slice(0, 200)}`).toBe(true)
    }
  })
})
