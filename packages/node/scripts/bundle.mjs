// Bundles the `outbox` executable into dist/bundle: one file for what every
// command needs, and a chunk for each part loaded on use (a sender, the
// embedded database, the demo). A cold start then reads a few files instead
// of ~800 modules, which is most of its time. PGlite stays outside: it loads
// its WebAssembly next to its own module.
import { build } from "esbuild"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const outdir = process.argv[2] ?? `${root}dist/bundle`

await build({
  absWorkingDir: root,
  entryPoints: { bin: "dist/bin.js" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["@electric-sql/pglite"],
  // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __outboxRequire } from \"node:module\"; const require = __outboxRequire(import.meta.url);" },
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning"
})
