/**
 * Running a command against the outbox store its settings name.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as RunnerConfig from "../RunnerConfig.js"
import * as RunnerLayers from "../RunnerLayers.js"

/**
 * Runs a command's `effect` with the outbox store from the database settings
 * (read inside the command's settings provider), migrating the tables first
 * only when asked.
 *
 * @category cli
 * @since 0.1.0
 */
export const withStore = (options: { readonly migrate: boolean }) =>
<A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(RunnerConfig.database, (database) =>
    Effect.provide(effect, RunnerLayers.store(database, options)))
