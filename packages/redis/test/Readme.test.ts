import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

// Every TypeScript snippet in this package's README is a `#region readme-…`
// of an example that CI type-checks: the README cannot drift from the API.
const packageRoot = fileURLToPath(new URL("..", import.meta.url))

const regions = (): Set<string> => {
  const found = new Set<string>()
  for (const file of readdirSync(join(packageRoot, "examples")).filter((name) => name.endsWith(".ts"))) {
    const text = readFileSync(join(packageRoot, "examples", file), "utf8")
    for (const match of text.matchAll(/\/\/ #region readme-[\w-]+\n([\s\S]*?)\/\/ #endregion/g)) {
      found.add((match[1] ?? "").trim())
    }
  }
  return found
}

describe("README", () => {
  it("every TypeScript snippet is a checked region of an example", () => {
    const readme = readFileSync(join(packageRoot, "README.md"), "utf8")
    const blocks = Array.from(readme.matchAll(/```ts\n([\s\S]*?)```/g), (match) => (match[1] ?? "").trim())
    expect(blocks.length).toBeGreaterThan(0)
    const known = regions()
    for (const block of blocks) {
      expect(known.has(block), `README snippet not found in any #region readme-…:\n${block.slice(0, 200)}`).toBe(true)
    }
  })
})
