import * as ReadmeSnippets from "@effect-outbox/test-support/ReadmeSnippets"

// Every TypeScript snippet in the root README, and in the package READMEs whose
// snippets are all checked regions, is a `#region readme-…` of a file that CI
// type-checks (and, for tests, runs) in any package: the README cannot drift.
ReadmeSnippets.check(["README.md", "packages/core/README.md", "packages/webhook/README.md"], ReadmeSnippets.everyPackage())
