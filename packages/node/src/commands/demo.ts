import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** The demo ran, and its final check found problems (already printed in its summary). */
export class DemoFailed extends Data.TaggedError("DemoFailed")<{ readonly problems: ReadonlyArray<string> }> {
  override get message() {
    return `The demo's check failed: ${this.problems.join("; ")}`
  }
}

/** `outbox demo`: the whole loop on an embedded database, with a flaky webhook receiver. */
export const demo = Command.make(
  "demo",
  {
    messages: Options.integer("messages").pipe(Options.withDescription("Orders to publish."), Options.withDefault(200)),
    failureRate: Options.float("failure-rate").pipe(
      Options.withDescription("Share of webhook requests answered 503 (retried)."),
      Options.withDefault(0.15)
    )
  },
  ({ failureRate, messages }) =>
    Effect.flatMap(
      // Loaded on use: the demo's embedded database is not for `run`'s start-up to pay for.
      Effect.flatMap(Effect.promise(() => import("../OrdersDemo.js")), (Demo) =>
        Demo.run({ messages, failureRate, tty: process.stdout.isTTY === true })),
      (summary) => summary.ok ? Effect.void : Effect.fail(new DemoFailed({ problems: summary.problems }))
    )
).pipe(
  Command.withDescription(
    "Publish orders and their outbox messages in one transaction on an embedded database, deliver them to a local webhook receiver that fails some requests, and check every message arrived."
  )
)
