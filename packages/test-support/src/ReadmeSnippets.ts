/**
 * The README check: every TypeScript snippet in a README is a `#region readme-…`
 * of an example or test that CI type-checks (and, for tests, runs), so the
 * README cannot drift from the API.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository's root folder. */
export const root = fileURLToPath(new URL("../../..", import.meta.url))

const snippets = (markdown: string) =>
  Array.from(markdown.matchAll(/```ts\n([\s\S]*?)```/g), (match) => (match[1] ?? "").trim())

/** The `#region readme-…` bodies of the `.ts` files directly in `folders` (a missing folder has none). */
const regions = (folders: ReadonlyArray<string>): Set<string> => {
  const found = new Set<string>()
  for (const folder of folders.filter((path) => existsSync(path))) {
    for (const file of readdirSync(folder).filter((name) => name.endsWith(".ts"))) {
      const text = readFileSync(join(folder, file), "utf8")
      for (const match of text.matchAll(/\/\/ #region readme-[\w-]+\n([\s\S]*?)\/\/ #endregion/g)) {
        found.add((match[1] ?? "").trim())
      }
    }
  }
  return found
}

/** Registers, for each README (a path from the repository root), the test that its snippets are regions of `folders`. */
export const check = (readmes: ReadonlyArray<string>, folders: ReadonlyArray<string>): void => {
  describe.each(readmes)("%s", (readme) => {
    it("every TypeScript snippet is a checked region of an example or test", () => {
      const blocks = snippets(readFileSync(join(root, readme), "utf8"))
      expect(blocks.length).toBeGreaterThan(0)
      const known = regions(folders.map((folder) => join(root, folder)))
      for (const block of blocks) {
        expect(known.has(block), `README snippet not found in any #region readme-…:\n${block.slice(0, 200)}`).toBe(true)
      }
    })
  })
}

/**
 * The check for one package's README (`packageUrl` is the package folder, e.g.
 * `new URL("..", import.meta.url)` from its test folder), against the regions
 * of its own `folders`.
 */
export const checkPackage = (packageUrl: URL, folders: ReadonlyArray<"examples" | "test"> = ["examples"]): void => {
  const dir = relative(root, fileURLToPath(packageUrl))
  check([join(dir, "README.md")], folders.map((folder) => join(dir, folder)))
}

/** The `examples` and `test` folders of every package: where the root README's snippets may live. */
export const everyPackage = (): ReadonlyArray<string> =>
  readdirSync(join(root, "packages")).flatMap((pkg) => [join("packages", pkg, "examples"), join("packages", pkg, "test")])
