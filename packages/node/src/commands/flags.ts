import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RunnerConfig from "../RunnerConfig.js"

/** A `--flag` for each named setting, described with its variable and default. */
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

/** Runs `effect` reading settings from the given flags first, then the environment. */
export const withSettingsFrom = (flags: Readonly<Record<string, Option.Option<string>>>) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const given: RunnerConfig.Flags = {}
  for (const [name, value] of Object.entries(flags)) {
    if (Option.isSome(value)) (given as Record<string, string>)[name] = value.value
  }
  return Effect.withConfigProvider(effect, RunnerConfig.providerFor(given))
}

/** The settings every command needs: where the outbox is. */
export const databaseFlags = settingFlags("databaseUrl", "dataDir", "schema", "tablePrefix")
