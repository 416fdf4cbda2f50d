/**
 * @effect-outbox/node: the `outbox` runner and its parts, usable as layers.
 *
 * @since 0.1.0
 */
export * as AdminApi from "./AdminApi.js"
export * as Cli from "./Cli.js"
export * as Dashboard from "./Dashboard.js"
export * as DashboardApi from "./DashboardApi.js"
export * as DashboardPage from "./DashboardPage.js"
export * as DashboardSeries from "./DashboardSeries.js"
export * as Health from "./Health.js"
export * as ManagementServer from "./ManagementServer.js"
export * as OrdersDemo from "./OrdersDemo.js"
export * as PrometheusMetrics from "./PrometheusMetrics.js"
export * as RelayHeartbeat from "./RelayHeartbeat.js"
export * as RelayProgress from "./RelayProgress.js"
export * as RunnerConfig from "./RunnerConfig.js"
export * as RunnerLayers from "./RunnerLayers.js"
export * as StoreConnection from "./StoreConnection.js"
