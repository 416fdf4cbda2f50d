import * as ReadmeSnippets from "@effect-outbox/test-support/ReadmeSnippets"

// Every TypeScript snippet in this package's README is a `#region readme-…`
// of an example that CI type-checks: the README cannot drift from the API.
ReadmeSnippets.checkPackage(new URL("..", import.meta.url))
