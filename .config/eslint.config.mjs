// Lint rules for every package. Type-aware rules are left out on purpose:
// `tsc -b` already type-checks, and untyped linting keeps CI fast on 2 cores.
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.outbox/**", ".examples/**", ".pack/**", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-empty-object-type": "off",
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Use Effect's Clock so TestClock can drive time." },
        { object: "Math", property: "random", message: "Use Effect's Random so tests are deterministic." }
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "CallExpression[callee.property.name=/^(only|skip)$/][callee.object.name=/^(it|describe|test)$/]", message: "No focused or skipped tests." }
      ]
    }
  },
  {
    // Tests and their shared helpers, examples, benchmarks, the chaos suite, the consumer test, the runner's process edge and the dashboard page (browser code) may read real time.
    files: ["packages/*/test/**", "packages/test-support/**", "packages/*/examples/**", "packages/bench/**", "packages/chaos/**", "packages/node/dashboard/**", "scripts/**"],
    rules: { "no-restricted-properties": "off" }
  }
)
