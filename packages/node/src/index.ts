/**
 * @effect-outbox/node: the `outbox` runner and its parts, usable as layers.
 *
 * @since 0.1.0
 */

/**
 * The admin JSON API: outbox stats, dead letters and parked keys, behind a bearer token.
 *
 * @category modules
 * @since 0.1.0
 */
export * as AdminApi from "./AdminApi.js"

/**
 * The `outbox` command line.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * The dashboard's data services for one outbox, on its `SqlClient`.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Dashboard from "./Dashboard.js"

/**
 * The admin routes the dashboard reads and acts through, beside `AdminApi`'s.
 *
 * @category modules
 * @since 0.1.0
 */
export * as DashboardApi from "./DashboardApi.js"

/**
 * Serves the dashboard page.
 *
 * @category modules
 * @since 0.1.0
 */
export * as DashboardPage from "./DashboardPage.js"

/**
 * The dashboard's chart data: a per-second time series of the last 15 minutes, in memory.
 *
 * @category modules
 * @since 0.1.0
 */
export * as DashboardSeries from "./DashboardSeries.js"

/**
 * Liveness and readiness of the runner, as probes (`/healthz`, `/readyz`) can ask for them.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Health from "./Health.js"

/**
 * The runner's HTTP server: health, metrics and the admin API on one port.
 *
 * @category modules
 * @since 0.1.0
 */
export * as ManagementServer from "./ManagementServer.js"

/**
 * `outbox demo`: the whole loop on an embedded database, with nothing to set up.
 *
 * @category modules
 * @since 0.1.0
 */
export * as OrdersDemo from "./OrdersDemo.js"

/**
 * Effect metrics in the Prometheus text format, through the OpenTelemetry Prometheus exporter.
 *
 * @category modules
 * @since 0.1.0
 */
export * as PrometheusMetrics from "./PrometheusMetrics.js"

/**
 * The relay announces itself: a fiber keeps this process's row in the relays table.
 *
 * @category modules
 * @since 0.1.0
 */
export * as RelayHeartbeat from "./RelayHeartbeat.js"

/**
 * What the runner knows about its relay.
 *
 * @category modules
 * @since 0.1.0
 */
export * as RelayProgress from "./RelayProgress.js"

/**
 * The runner's settings, from flags and environment variables through Effect `Config`.
 *
 * @category modules
 * @since 0.1.0
 */
export * as RunnerConfig from "./RunnerConfig.js"

/**
 * The runner's layers, from its settings.
 *
 * @category modules
 * @since 0.1.0
 */
export * as RunnerLayers from "./RunnerLayers.js"

/**
 * Opening the outbox when the database may not be there yet (a restart, a database that starts after the runner).
 *
 * @category modules
 * @since 0.1.0
 */
export * as StoreConnection from "./StoreConnection.js"
