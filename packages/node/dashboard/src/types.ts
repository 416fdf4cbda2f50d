// The admin API's response shapes: the server's own types, imported as types
// only (nothing of the server is bundled), as JSON carries them: dates become
// ISO strings.
import type { DeadLetter } from "@effect-outbox/core"
import type * as DashboardSeries from "@effect-outbox/node/DashboardSeries"
import type { OutboxInsight, RelayRegistry } from "@effect-outbox/sql"

/** A value as `JSON.stringify` then `JSON.parse` give it back: a `Date` becomes its ISO string. */
type Json<T> = T extends Date ? string
  : T extends ReadonlyArray<infer A> ? ReadonlyArray<Json<A>>
  : T extends object ? { readonly [K in keyof T]: Json<T[K]> }
  : T

export type Count = OutboxInsight.Count

export interface OverviewResponse {
  readonly overview: Json<OutboxInsight.Overview>
  readonly readiness: { readonly ready: boolean; readonly reason: string }
}

export type Point = DashboardSeries.Point

export type SeriesResponse = Pick<DashboardSeries.Series, "points" | "topics">

export type Relay = Json<RelayRegistry.Relay>

export type Page<A> = OutboxInsight.Page<A>

export type DeadLetterRow = Json<OutboxInsight.DeadLetterRow>

export type WaitingMessage = Json<OutboxInsight.WaitingMessage>

export type MessageDetail = Json<OutboxInsight.MessageDetail>

export type ParkedKey = Json<DeadLetter.ParkedKey>
