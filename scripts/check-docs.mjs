// Checks the public API docs: every module of a published package opens with a
// doc comment carrying `@since`, and every export (declarations, re-exports,
// `export * as X` in index files) has its own JSDoc with `@since` and a
// `@category` from the shared vocabulary below, the way Effect's packages do.
// Internal modules (`src/internal/**`) and private packages are out of scope.
// Exits 1 listing what is missing. Uses only the TypeScript parser.
import { readdirSync, readFileSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const ts = createRequire(join(root, "package.json"))("typescript")

// Published packages only: the private ones hold tooling (benchmarks, chaos runs, test helpers).
const { workspaces } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const published = workspaces.filter((dir) => JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")).private !== true)

// One small vocabulary for every package, so a category means the same thing everywhere.
const categories = new Set([
  "constructors", // make, of, fromX: build a value or a service
  "layers", // layer, layerX: a Layer providing a service
  "models", // interfaces, types and data classes
  "errors", // error classes
  "tags", // Context.Tag services
  "operations", // what the module is for: publish, drain, run, sign, verify
  "combinators", // take an Effect, a Layer or a policy and return a changed one
  "utils", // small helpers: describe, parse, encode, decode
  "metrics", // Effect metrics
  "config", // Config values, settings and their parsing
  "constants", // header names, defaults, fixed values
  "http", // HTTP routes and their helpers
  "cli", // commands and flags of the `outbox` command line
  "testing", // test helpers and contract suites
  "modules" // `export * as X` re-exports in index files
])

const sourceFiles = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === "internal" ? [] : sourceFiles(path)
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : []
  })

const files = published.flatMap((dir) => {
  const src = join(root, dir, "src")
  return statSync(src, { throwIfNoEntry: false })?.isDirectory() ? sourceFiles(src) : []
})

const tagsOf = (doc) => doc?.tags ?? []
const problemsOf = (doc) => {
  if (doc === undefined) return ["no JSDoc"]
  const problems = []
  const since = tagsOf(doc).find((tag) => tag.tagName.text === "since")
  if (since === undefined || !/^\d+\.\d+\.\d+$/.test(ts.getTextOfJSDocComment(since.comment)?.trim() ?? "")) {
    problems.push("no @since <version>")
  }
  const category = tagsOf(doc).find((tag) => tag.tagName.text === "category")
  const name = ts.getTextOfJSDocComment(category?.comment)?.trim()
  if (name === undefined || name === "") problems.push("no @category")
  else if (!categories.has(name)) problems.push(`@category "${name}" is not one of: ${[...categories].join(", ")}`)
  return problems
}

const isExported = (node) => ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export

const report = []
let checked = 0
for (const file of files) {
  const text = readFileSync(file, "utf8")
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const where = (node) => `${relative(root, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`
  const first = source.statements[0]
  // The file's first doc comment documents the module (as Effect's docgen reads it),
  // so an export right below it needs a second block of its own.
  const moduleDoc = first?.jsDoc?.[0]
  if (tagsOf(moduleDoc).every((tag) => tag.tagName.text !== "since")) {
    report.push(`${relative(root, file)}:1 module: no module doc comment with @since`)
  }
  const ownDoc = (node, statement) => {
    const blocks = (node.jsDoc ?? []).filter((block) => !(statement === first && block === moduleDoc))
    return blocks.at(-1)
  }
  const check = (name, node, doc) => {
    checked++
    const problems = problemsOf(doc)
    if (problems.length > 0) report.push(`${where(node)} ${name}: ${problems.join(", ")}`)
  }
  const visit = (statements) => {
    const seen = new Set()
    for (const statement of statements) {
      if (ts.isExportDeclaration(statement)) {
        const clause = statement.exportClause
        if (clause === undefined) check("export *", statement, ownDoc(statement, statement))
        else if (ts.isNamespaceExport(clause)) check(clause.name.text, statement, ownDoc(statement, statement))
        else {
          for (const specifier of clause.elements) {
            // A lone specifier may carry its doc on the whole `export { x }` statement.
            const doc = ownDoc(specifier, statement) ?? (clause.elements.length === 1 ? ownDoc(statement, statement) : undefined)
            check(specifier.name.text, specifier, doc)
          }
        }
      } else if (ts.isExportAssignment(statement)) {
        check("default", statement, ownDoc(statement, statement))
      } else if (isExported(statement)) {
        const names = ts.isVariableStatement(statement)
          ? statement.declarationList.declarations.map((declaration) => declaration.name.getText(source))
          : [statement.name?.getText(source) ?? "default"]
        const key = `${statement.kind}:${names.join(",")}`
        // Overloads: the first signature carries the doc.
        if (ts.isFunctionDeclaration(statement) && seen.has(key)) continue
        seen.add(key)
        check(names.join(", "), statement, ownDoc(statement, statement))
        if (ts.isModuleDeclaration(statement) && statement.body && ts.isModuleBlock(statement.body)) {
          visit(statement.body.statements)
        }
      }
    }
  }
  visit(source.statements)
}

if (report.length > 0) {
  console.error(report.join("\n"))
  console.error(`${report.length} doc problem(s) in ${checked} public exports of ${files.length} modules; the vocabulary is in scripts/check-docs.mjs`)
  process.exit(1)
}
console.log(`check-docs: ${checked} public exports in ${files.length} modules have @since and @category`)
