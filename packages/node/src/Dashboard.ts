/**
 * The dashboard's data services for one outbox, on its `SqlClient`: the
 * read-side queries (`OutboxInsight`), the relays' registry (`RelayRegistry`)
 * and the in-memory per-second series (`DashboardSeries`). With them in
 * context, `ManagementServer` serves the page at `/` and its data under
 * `/admin/…`; add `RelayHeartbeat.layer` so the relay lists itself.
 *
 * @example
 * import { Layer, Redacted } from "effect"
 * import { Dashboard, ManagementServer } from "@effect-outbox/node"
 *
 * declare const adminToken: Redacted.Redacted<string>
 *
 * const HttpLive = ManagementServer.layer({ port: 9470, adminToken }).pipe(
 *   Layer.provide(Dashboard.layer({ schema: "public", tablePrefix: "outbox" }))
 * )
 *
 * @since 0.1.0
 */
import type { OutboxStore } from "@effect-outbox/core"
import { OutboxInsight, RelayRegistry } from "@effect-outbox/sql"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as DashboardSeries from "./DashboardSeries.js"

/**
 * Where the outbox's tables are.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly schema?: string | undefined
  readonly tablePrefix?: string | undefined
}

/**
 * The dashboard's data services.
 *
 * @category models
 * @since 0.1.0
 */
export type Services = OutboxInsight.OutboxInsight | RelayRegistry.RelayRegistry | DashboardSeries.DashboardSeries

/**
 * Builds the dashboard's data services (the series sampler runs in the layer's scope).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Services, OutboxStore.OutboxStoreError, SqlClient.SqlClient> => {
  const insight = OutboxInsight.layer(options)
  return Layer.mergeAll(
    DashboardSeries.layer.pipe(Layer.provideMerge(insight)),
    RelayRegistry.layer(options)
  )
}

/**
 * The dashboard's services, arriving later than the server: `outbox run`
 * serves HTTP before the database is reachable, and sets these once the
 * outbox is open. Until then the dashboard's data routes answer 503.
 *
 * @category tags
 * @since 0.1.0
 */
export class Late extends Context.Tag("@effect-outbox/node/Dashboard/Late")<Late, {
  readonly get: Effect.Effect<Option.Option<Context.Context<Services>>>
  readonly set: (services: Context.Context<Services>) => Effect.Effect<void>
}>() {}

/**
 * An empty holder for `Late`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeLate: Effect.Effect<Context.Tag.Service<Late>> = Effect.map(
  Ref.make(Option.none<Context.Context<Services>>()),
  (ref) => Late.of({ get: Ref.get(ref), set: (services) => Ref.set(ref, Option.some(services)) })
)

/**
 * What `lookup` found.
 *
 * @category models
 * @since 0.1.0
 */
export type Lookup<S> = { readonly _tag: "Found"; readonly service: S } | { readonly _tag: "Absent" | "Waiting" }

/**
 * Finds one of the dashboard's services: in context, or set later through
 * `Late`. `Absent` when this process serves no dashboard, `Waiting` while the
 * outbox is not open yet.
 *
 * @category utils
 * @since 0.1.0
 */
export const lookup = <I extends Services, S>(tag: Context.Tag<I, S>): Effect.Effect<Lookup<S>> =>
  Effect.flatMap(Effect.serviceOption(tag), (direct): Effect.Effect<Lookup<S>> => {
    if (Option.isSome(direct)) return Effect.succeed({ _tag: "Found", service: direct.value })
    return Effect.flatMap(Effect.serviceOption(Late), (late): Effect.Effect<Lookup<S>> => {
      if (Option.isNone(late)) return Effect.succeed({ _tag: "Absent" })
      return Effect.map(late.value.get, (services): Lookup<S> =>
        Option.isNone(services) ? { _tag: "Waiting" } : { _tag: "Found", service: Context.get(services.value, tag) })
    })
  })
