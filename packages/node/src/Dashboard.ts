/**
 * The dashboard's data services for one outbox, on its `SqlClient`: the
 * read-side queries (`OutboxInsight`), the relays' registry (`RelayRegistry`)
 * and the in-memory per-second series (`DashboardSeries`). With them in
 * context, `ManagementServer` serves the page at `/` and its data under
 * `/admin/…`; add `RelayHeartbeat.layer` so the relay lists itself.
 *
 * @example
 * import { Layer } from "effect"
 * import { Dashboard, ManagementServer } from "@effect-outbox/node"
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
import * as Layer from "effect/Layer"
import * as DashboardSeries from "./DashboardSeries.js"

/** Where the outbox's tables are. */
export interface Options {
  readonly schema?: string | undefined
  readonly tablePrefix?: string | undefined
}

/** The dashboard's data services. */
export type Services = OutboxInsight.OutboxInsight | RelayRegistry.RelayRegistry | DashboardSeries.DashboardSeries

/** Builds the dashboard's data services (the series sampler runs in the layer's scope). */
export const layer = (
  options: Options = {}
): Layer.Layer<Services, OutboxStore.OutboxStoreError, SqlClient.SqlClient> => {
  const insight = OutboxInsight.layer(options)
  return Layer.mergeAll(
    DashboardSeries.layer.pipe(Layer.provideMerge(insight)),
    RelayRegistry.layer(options)
  )
}
