import { fileURLToPath } from "node:url"
import { defineWorkspace } from "vitest/config"

// One project per package. Tests run against the packages' TypeScript sources:
// `@effect-outbox/<pkg>` and `@effect-outbox/<pkg>/<Module>` resolve to `src/`,
// so `npm test` needs no build first.
const packages = ["core", "sql", "pglite", "nats", "amqp", "redis", "webhook", "node"] as const

const source = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url))

// `@effect-outbox/test-support/<Module>` (the tests' shared helpers, not published) too.
const alias = [
  { find: /^@effect-outbox\/([a-z]+)$/, replacement: source("$1/src/index.ts") },
  { find: /^@effect-outbox\/([a-z]+)\/testing$/, replacement: source("$1/src/testing/index.ts") },
  { find: /^@effect-outbox\/([a-z-]+)\/([A-Za-z/]+)$/, replacement: source("$1/src/$2.ts") }
]

export default defineWorkspace(
  packages.map((name) => ({
    resolve: { alias },
    test: {
      name,
      root: source(name),
      include: ["test/**/*.test.ts"],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      // The runner's tests spawn the built `outbox` binary: build it first (a no-op when up to date).
      ...(name === "node" ? { globalSetup: [source("node/test/buildBinary.ts")] } : {})
    }
  }))
)
