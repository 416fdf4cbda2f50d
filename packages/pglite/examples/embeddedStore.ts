/**
 * The outbox's SQL store on the embedded database: what the runner uses when no
 * Postgres URL is configured. Wake-ups come from PGlite's LISTEN/NOTIFY.
 */
// #region readme-pglite-outbox
import { PgliteClient } from "@effect-outbox/pglite"
import { Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import { Effect, Layer } from "effect"

/** The outbox's Postgres store, unchanged, on an embedded database in `./.outbox`. */
export const EmbeddedStore = SqlOutboxStore.layer().pipe(
  Layer.provide(
    Layer.unwrapEffect(Effect.map(PgliteClient.PgliteClient, (client) => Notifications.layerFrom(client.listen)))
  ),
  Layer.provideMerge(PgliteClient.layer({ dataDir: "./.outbox" }))
)
// #endregion
