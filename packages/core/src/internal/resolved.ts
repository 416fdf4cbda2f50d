/**
 * The relay's configuration with its defaults applied and its durations
 * decoded once, so the drain loop does no parsing per batch.
 */
import * as Duration from "effect/Duration"
import type { ClaimOptions, Ordering } from "../OutboxStore.js"
import type { Config } from "../Relay.js"
import type * as RetryPolicy from "../RetryPolicy.js"
import type * as Topic from "../Topic.js"

export interface Resolved {
  readonly config: Config
  readonly pollInterval: Duration.Duration
  readonly leaseFor: Duration.Duration
  readonly sendTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly policyFor: RetryPolicy.Selector
  readonly topics: ReadonlyMap<string, Topic.AnyNoContext>
  readonly ordering: Ordering | undefined
  readonly claimOptions: ClaimOptions
}

export const resolve = (config: Config): Resolved => {
  const policy = config.retryPolicy
  const leaseFor = Duration.decode(config.leaseFor)
  const ordering: Ordering | undefined = config.ordered === true
    ? "all"
    : config.ordered === false
    ? undefined
    : { topics: config.ordered }
  return {
    config,
    pollInterval: Duration.decode(config.pollInterval),
    leaseFor,
    sendTimeout: Duration.decode(config.sendTimeout),
    shutdownTimeout: Duration.decode(config.shutdownTimeout),
    policyFor: typeof policy === "function" ? policy : () => policy,
    topics: new Map(config.topics.map((topic) => [topic.name, topic])),
    ordering,
    claimOptions: { batchSize: config.batchSize, leaseFor, freshFirst: config.freshFirst, ordered: ordering }
  }
}
