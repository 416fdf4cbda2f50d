/**
 * The `outbox` command line: `run`, `migrate`, `drain`, `dead-letters`,
 * `stats`, `demo`; `--help` on each, `--version`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import { deadLetters } from "./commands/deadLetters.js"
import { demo } from "./commands/demo.js"
import { run } from "./commands/run.js"
import { drain, migrate, stats } from "./commands/store.js"

/**
 * The root command.
 *
 * @category cli
 * @since 0.1.0
 */
export const outbox = Command.make("outbox").pipe(
  Command.withDescription("The transactional outbox runner: drain an outbox table into a webhook."),
  Command.withSubcommands([run, migrate, drain, deadLetters, stats, demo])
)

/**
 * The package's version, printed by `--version`.
 *
 * @category constants
 * @since 0.1.0
 */
export const version = "0.1.0"

/**
 * Parses `argv` (as `process.argv`) and runs the command.
 *
 * @category cli
 * @since 0.1.0
 */
export const cli = Command.run(outbox, { name: "outbox", version })

/**
 * A bad `dead-letters` filter flag; `message` is the one line to print.
 *
 * @category errors
 * @since 0.1.0
 */
export { InvalidFilter } from "./commands/deadLetters.js"
