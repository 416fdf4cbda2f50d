// Reading one setting through Effect `Config` (a flag wins over its variable,
// a variable over the default) and refusing a bad value with `InvalidSetting`,
// whose message is one line (re-exported by RunnerConfig, which groups these
// readers into the database, relay, sender, HTTP and log settings).
import { DurationText, RelayConfig } from "@effect-outbox/core"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { type Setting, settings } from "./settingsTable.js"

type Name = keyof typeof settings

/** A setting had a bad value, or a needed one was missing. `message` is the one line to print. */
export class InvalidSetting extends Data.TaggedError("InvalidSetting")<{
  readonly setting: Setting
  readonly problem: string
}> {
  override get message() {
    return `Invalid ${this.setting.env} (--${this.setting.flag}): ${this.problem}; expected ${this.setting.expected}`
  }
}

/** The given value is not valid (a secret's value is never repeated). */
export const invalid = (name: Name, given: string) =>
  new InvalidSetting({
    setting: settings[name],
    problem: settings[name].secret === true ? "the value given is not valid" : `got ${JSON.stringify(given)}`
  })

/** The raw text of a setting, or its default. */
const raw = (name: Name): Effect.Effect<Option.Option<string>> =>
  Config.option(Config.string(settings[name].env)).pipe(
    Effect.orDie, // reading an optional string cannot fail: only parsing below can
    Effect.map((value) =>
      Option.orElse(
        Option.filter(value, (text) => text.trim().length > 0),
        () => Option.fromNullable(settings[name].default)
      )
    )
  )

/** The text of a setting that must be given. */
export const required = (name: Name) =>
  Effect.flatMap(raw(name), Option.match({
    onNone: () => Effect.fail(new InvalidSetting({ setting: settings[name], problem: "it is not set" })),
    onSome: Effect.succeed
  }))

/** The text of a setting, its default, or the empty string. */
export const withDefault = (name: Name) =>
  Effect.map(raw(name), Option.getOrElse(() => settings[name].default ?? ""))

/** A whole number from `min` to `max`. */
export const integer = (name: Name, min: number, max: number) =>
  Effect.flatMap(withDefault(name), (text) => {
    const value = Number(text)
    return /^\d+$/.test(text.trim()) && value >= min && value <= max ? Effect.succeed(value) : Effect.fail(invalid(name, text))
  })

/** A relay setting, in the grammar of core's `RelayConfig`. */
export const relaySetting = <N extends RelayConfig.Name>(name: N): Effect.Effect<RelayConfig.Values[N], InvalidSetting> =>
  Effect.flatMap(withDefault(name), (text) =>
    // Each setting's parser yields the value of the same name (see `RelayConfig.Values`).
    Either.match((RelayConfig.settings[name] as RelayConfig.Setting<RelayConfig.Values[N]>).parse(text), {
      onLeft: (problem) => Effect.fail(new InvalidSetting({ setting: settings[name], problem })),
      onRight: Effect.succeed
    }))

/** A duration; zero is refused (a runner duration where zero works is a relay setting). */
export const duration = (name: "stallThreshold" | "failureThreshold") =>
  Effect.flatMap(withDefault(name), (text) =>
    Option.match(DurationText.parse(text), {
      onNone: () => Effect.fail(invalid(name, text)),
      onSome: (value) =>
        Duration.toMillis(value) <= 0
          ? Effect.fail(new InvalidSetting({ setting: settings[name], problem: `got ${JSON.stringify(text)} (zero cannot work here)` }))
          : Effect.succeed(value)
    }))

/** A secret, read as `Redacted`; empty counts as not given. */
export const secret = (name: Name): Effect.Effect<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(Config.redacted(settings[name].env)).pipe(
    Effect.orDie,
    Effect.map(Option.filter((value) => Redacted.value(value).length > 0))
  )
