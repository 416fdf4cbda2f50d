/**
 * The runner's HTTP server: health (`/healthz`, `/readyz`), metrics
 * (`/metrics`) and the admin API (`/admin/...`) on one port.
 *
 * `router` is the plain `HttpRouter` (mount it in an app's own server);
 * `serve` serves it on whichever `HttpServer` is provided; `layer` starts a
 * Node server on `port` (0 picks a free one) and provides the bound address.
 * Readiness reports leadership when a `Leadership` service is in the
 * context (provide the relay's own).
 *
 * @example
 * import { Layer, Redacted } from "effect"
 * import type { OutboxStore, Sender } from "@effect-outbox/core"
 * import { ManagementServer, PrometheusMetrics, RelayProgress } from "@effect-outbox/node"
 *
 * declare const StoreLive: Layer.Layer<OutboxStore.OutboxStore>
 * declare const SenderLive: Layer.Layer<Sender.Sender>
 * const adminToken = Redacted.make("a long random token")
 *
 * // One RelayProgress, provided to both: the relay reports to it, /readyz reads it.
 * const RunnerLive = Layer.mergeAll(
 *   RelayProgress.layerRelay({ batchSize: 100 }),
 *   ManagementServer.layer({ port: 9090, adminToken }).pipe(Layer.provide(PrometheusMetrics.layer()))
 * ).pipe(Layer.provide(RelayProgress.layer), Layer.provide(Layer.mergeAll(StoreLive, SenderLive)))
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { OutboxStore } from "@effect-outbox/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import { createServer } from "node:http"
import * as AdminApi from "./AdminApi.js"
import * as DashboardApi from "./DashboardApi.js"
import * as DashboardPage from "./DashboardPage.js"
import * as Health from "./Health.js"
import * as PrometheusMetrics from "./PrometheusMetrics.js"
import type { RelayProgress } from "./RelayProgress.js"

/**
 * What to serve.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The bearer token of the admin API; without one the admin routes answer 403. */
  readonly adminToken?: Redacted.Redacted<string> | undefined
  /** A read-only token: it may read the admin API (and use the dashboard) but not replay or purge. */
  readonly adminReadToken?: Redacted.Redacted<string> | undefined
  /** Readiness settings (stall threshold, store timeout). */
  readonly readiness?: Health.Options | undefined
}

/**
 * Where to listen.
 *
 * @category models
 * @since 0.1.0
 */
export interface ListenOptions extends Options {
  /** The TCP port; 0 picks a free one (read it from `ManagementServer`). */
  readonly port: number
  /** The interface to bind. Default: all interfaces. */
  readonly host?: string | undefined
}

/**
 * The services the routes read.
 *
 * @category models
 * @since 0.1.0
 */
export type Requirements = OutboxStore.OutboxStore | RelayProgress | PrometheusMetrics.PrometheusMetrics

/**
 * The running server: its bound address, and a base URL to reach it.
 *
 * @category tags
 * @since 0.1.0
 */
export class ManagementServer extends Context.Tag("@effect-outbox/node/ManagementServer")<ManagementServer, {
  readonly address: HttpServer.Address
  /** `http://host:port` (loopback when bound to all interfaces). */
  readonly url: string
}>() {}

/**
 * Every route, with JSON 404s for unknown paths. The dashboard's data routes
 * answer when `OutboxInsight`, `RelayRegistry` and `DashboardSeries` are in
 * context (see `Dashboard.layer`).
 *
 * @category http
 * @since 0.1.0
 */
export const router = (options: Options = {}): HttpRouter.HttpRouter<never, Requirements> =>
  HttpRouter.concatAll(
    Health.router(options.readiness),
    PrometheusMetrics.router,
    AdminApi.router({ token: options.adminToken, readToken: options.adminReadToken }),
    DashboardApi.router({ token: options.adminToken, readToken: options.adminReadToken, readiness: options.readiness }),
    DashboardPage.router
  ).pipe(
    HttpRouter.all("*", Effect.succeed(HttpServerResponse.unsafeJson({ error: "not found" }, { status: 404 })))
  )

/**
 * Serves the routes on the provided `HttpServer` for the layer's lifetime.
 *
 * @category layers
 * @since 0.1.0
 */
export const serve = (options: Options = {}): Layer.Layer<never, never, HttpServer.HttpServer | Requirements> =>
  HttpServer.serve(router(options))

const urlOf = (address: HttpServer.Address): string => {
  if (address._tag === "UnixAddress") return `http+unix://${encodeURIComponent(address.path)}`
  const host = address.hostname === "0.0.0.0" || address.hostname === "::" ? "127.0.0.1" : address.hostname
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`
}

/**
 * Starts a Node HTTP server on `port` serving the routes, closed with the
 * layer. Fails with `ServeError` when the port cannot be bound.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: ListenOptions
): Layer.Layer<ManagementServer, HttpServerError.ServeError, Requirements> =>
  Layer.merge(
    serve(options),
    Layer.effect(
      ManagementServer,
      Effect.map(HttpServer.HttpServer, (server) => ({ address: server.address, url: urlOf(server.address) }))
    )
  ).pipe(
    Layer.provide(
      NodeHttpServer.layer(() => createServer(), {
        port: options.port,
        ...(options.host === undefined ? {} : { host: options.host })
      })
    )
  )
