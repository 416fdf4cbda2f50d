// The docs check: every `@example` in the packages' JSDoc compiles. Each
// example is written to its own module under `.examples/` (one file per
// example, named after its source) and type-checked with the test settings
// (`.config/tsconfig.test.json`: `@effect-outbox/*` resolve to the sources).
// An example declares what it takes from its surroundings with
// `declare const name: Type`, so it stays a complete, checked program.
import { execFileSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = join(root, ".examples")

const sources = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

/** The `@example` blocks of a file's JSDoc comments, without the comment's ` * ` margin. */
const examplesOf = (text) => {
  const found = []
  for (const comment of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const lines = comment[1].split("\n").map((line) => line.replace(/^\s*\* ?/, ""))
    let current = null
    for (const line of lines) {
      if (/^@\w+/.test(line)) {
        if (current !== null) found.push(current)
        current = line.startsWith("@example") ? [] : null
        continue
      }
      if (current !== null) current.push(line)
    }
    if (current !== null) found.push(current)
  }
  return found.map((lines) => lines.join("\n").trim()).filter((code) => code.length > 0)
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const files = []
for (const pkg of readdirSync(join(root, "packages"))) {
  let srcFiles = []
  try {
    srcFiles = sources(join(root, "packages", pkg, "src"))
  } catch {
    continue
  }
  for (const file of srcFiles) {
    examplesOf(readFileSync(file, "utf8")).forEach((code, index) => {
      const name = `${relative(join(root, "packages"), file).replace(/\.ts$/, "").replace(/[/\\]/g, "__")}__${index}.ts`
      writeFileSync(join(out, name), `// From ${relative(root, file)}\n${code}\n\nexport {}\n`)
      files.push(name)
    })
  }
}
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../.config/tsconfig.test.json",
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false, lib: ["ES2022", "DOM"] },
    include: ["*.ts"]
  }, null, 2)
)
try {
  execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(out, "tsconfig.json")], {
    cwd: root,
    stdio: "inherit"
  })
  console.log(`${files.length} JSDoc examples compile`)
} catch {
  console.error(`JSDoc examples that do not compile: see the errors above (the files are in .examples/, each names its source)`)
  process.exit(1)
}
