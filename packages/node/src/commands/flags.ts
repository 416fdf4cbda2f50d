/**
 * The command-line flags shared by the runner's commands, one per setting.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as RunnerConfig from "../RunnerConfig.js"

/**
 * A `--flag` for each named setting, described with its variable and default.
 *
 * @category cli
 * @since 0.1.0
 */
export const settingFlags = <const Names extends ReadonlyArray<RunnerConfig.Name>>(...names: Names) =>
  Options.all(
    Object.fromEntries(names.map((name) => {
      const setting: RunnerConfig.Setting = RunnerConfig.settings[name]
      const flag = Options.text(setting.flag).pipe(
        Options.withDescription(
          `${setting.description} [env ${setting.env}]${setting.default === undefined ? "" : ` (default ${setting.default})`}`
        ),
        Options.optional
      )
      return [name, flag]
    })) as { [K in Names[number]]: Options.Options<Option.Option<string>> }
  )

/**
 * Runs `effect` reading settings from the given flags first, then the environment.
 *
 * @category cli
 * @since 0.1.0
 */
export const withSettingsFrom = (flags: Readonly<Record<string, Option.Option<string>>>) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const given: RunnerConfig.Flags = {}
  for (const [name, value] of Object.entries(flags)) {
    if (Option.isSome(value)) (given as Record<string, string>)[name] = value.value
  }
  return Effect.withConfigProvider(effect, RunnerConfig.providerFor(given))
}

/**
 * The settings every command needs: where the outbox is.
 *
 * @category cli
 * @since 0.1.0
 */
export const databaseFlags = settingFlags("databaseUrl", "dataDir", "schema", "tablePrefix", "poolSize")

/**
 * Runs `effect` logging as `OUTBOX_LOG_LEVEL` and `OUTBOX_LOG_FORMAT` say (read inside the settings' provider).
 *
 * @category cli
 * @since 0.1.0
 */
export const withLogging = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(RunnerConfig.logging, (logging) =>
    effect.pipe(
      Logger.withMinimumLogLevel(logging.level),
      // JSON: one object per line on stderr (stdout carries command output), instead of the readable lines.
      logging.format === "json"
        ? Effect.locally(FiberRef.currentLoggers, HashSet.make(Logger.withConsoleError(Logger.jsonLogger)))
        : (self) => self
    ))
