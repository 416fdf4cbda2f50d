import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

// Every TypeScript snippet in this package's README is a `#region readme-…` of
// an example or test that CI type-checks: the README cannot drift from the API.
const packageDir = fileURLToPath(new URL("..", import.meta.url))

const regions = (): Set<string> => {
  const found = new Set<string>()
  for (const dir of ["examples", "test"]) {
    for (const file of readdirSync(join(packageDir, dir)).filter((name) => name.endsWith(".ts"))) {
      const text = readFileSync(join(packageDir, dir, file), "utf8")
      for (const match of text.matchAll(/\/\/ #region readme-[\w-]+\n([\s\S]*?)\/\/ #endregion/g)) {
        found.add((match[1] ?? "").trim())
      }
    }
  }
  return found
}

describe("README", () => {
  it("every TypeScript snippet is a checked region of an example or test", () => {
    const readme = readFileSync(join(packageDir, "README.md"), "utf8")
    const blocks = Array.from(readme.matchAll(/```ts\n([\s\S]*?)```/g), (match) => (match[1] ?? "").trim())
    const known = regions()
    expect(blocks.length).toBeGreaterThan(0)
    for (const block of blocks) {
      expect(known.has(block), `README snippet not found in any #region readme-…:\n${block.slice(0, 200)}`).toBe(true)
    }
  })
})
