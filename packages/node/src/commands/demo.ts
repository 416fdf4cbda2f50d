/**
 * The `outbox demo` command.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * The demo ran, and its final check found problems (already printed in its summary).
 *
 * @category errors
 * @since 0.1.0
 */
export class DemoFailed extends Data.TaggedError("DemoFailed")<{ readonly problems: ReadonlyArray<string> }> {
  override get message() {
    return `The demo's check failed: ${this.problems.join("; ")}`
  }
}

/**
 * `outbox demo`: the whole loop on an embedded database, with a flaky webhook receiver.
 *
 * @category cli
 * @since 0.1.0
 */
export const demo = Command.make(
  "demo",
  {
    messages: Options.integer("messages").pipe(Options.withDescription("Orders to publish."), Options.withDefault(200)),
    failureRate: Options.float("failure-rate").pipe(
      Options.withDescription("Share of webhook requests answered 503 (retried)."),
      Options.withDefault(0.15)
    ),
    rate: Options.integer("rate").pipe(
      Options.withDescription("Orders published per second (default: as fast as possible)."),
      Options.optional
    ),
    dashboardPort: Options.integer("dashboard-port").pipe(
      Options.withDescription("Port of the dashboard (0: any free port)."),
      Options.withDefault(0)
    ),
    hold: Options.boolean("hold").pipe(
      Options.withDescription("After the summary, keep the dashboard up until Ctrl-C.")
    )
  },
  ({ dashboardPort, failureRate, hold, messages, rate }) =>
    Effect.flatMap(
      // Loaded on use: the demo's embedded database is not for `run`'s start-up to pay for.
      Effect.flatMap(Effect.promise(() => import("../OrdersDemo.js")), (Demo) =>
        Demo.run({
          messages,
          failureRate,
          tty: process.stdout.isTTY === true,
          rate: Option.getOrUndefined(rate),
          dashboard: { port: dashboardPort },
          hold: hold ? Effect.never : undefined
        })),
      (summary) => summary.ok ? Effect.void : Effect.fail(new DemoFailed({ problems: summary.problems }))
    )
).pipe(
  Command.withDescription(
    "Publish orders and their outbox messages in one transaction on an embedded database, deliver them to a local webhook receiver that fails some requests, and check every message arrived. Serves the dashboard meanwhile (its URL is printed)."
  )
)
