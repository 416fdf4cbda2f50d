import { MemoryStore, Relay, RelayConfig, RetryPolicy, Sender } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Layer } from "effect"

const fromMap = (entries: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(entries)))

const read = (entries: Record<string, string>) => Effect.withConfigProvider(RelayConfig.config, fromMap(entries))

describe("RelayConfig", () => {
  it.effect("unset variables give the relay's defaults", () =>
    Effect.gen(function*() {
      const options = yield* read({})
      expect(options.batchSize).toBe(Relay.defaults.batchSize)
      expect(options.concurrency).toBe(Relay.defaults.concurrency)
      expect(Duration.toMillis(Duration.decode(options.leaseFor ?? 0))).toBe(Duration.toMillis(Relay.defaults.leaseFor))
      expect(Duration.toMillis(Duration.decode(options.pollInterval ?? 0))).toBe(Duration.toMillis(Relay.defaults.pollInterval))
      expect(options.ordered).toBe(false)
      expect(options.claimMode).toBe("lease")
      expect(options.maxLostClaims).toBe(20)
    }))

  it.effect("reads the runner's variables, in the runner's grammar", () =>
    Effect.gen(function*() {
      const options = yield* read({
        OUTBOX_BATCH_SIZE: "250",
        OUTBOX_CONCURRENCY: "4",
        OUTBOX_POLL_INTERVAL: "500ms",
        OUTBOX_LEASE: "1d",
        OUTBOX_SEND_TIMEOUT: "30",
        OUTBOX_SHUTDOWN_TIMEOUT: "0s",
        OUTBOX_RETRY: "none",
        OUTBOX_ORDERED: "orders,payments",
        OUTBOX_DEAD_LETTERED_KEY: "skip",
        OUTBOX_CLAIM_MODE: "transactional",
        OUTBOX_MAX_LOST_CLAIMS: "5"
      })
      expect(options).toMatchObject({
        batchSize: 250,
        concurrency: 4,
        ordered: ["orders", "payments"],
        deadLetteredKey: "skip",
        claimMode: "transactional",
        maxLostClaims: 5,
        retryPolicy: RetryPolicy.never
      })
      const millis = (input: Duration.DurationInput | undefined) => Duration.toMillis(Duration.decode(input ?? 0))
      expect(millis(options.pollInterval)).toBe(500)
      expect(millis(options.leaseFor)).toBe(86_400_000)
      expect(millis(options.sendTimeout)).toBe(30_000)
      expect(millis(options.shutdownTimeout)).toBe(0)
    }))

  it.effect("a bad value fails naming the variable, what was given and what is expected", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ OUTBOX_LEASE: "soon" }, `Invalid OUTBOX_LEASE: got "soon"; expected a duration such as 30s`],
        [{ OUTBOX_POLL_INTERVAL: "0" }, `Invalid OUTBOX_POLL_INTERVAL: got "0" (zero cannot work here)`],
        [{ OUTBOX_BATCH_SIZE: "0" }, `Invalid OUTBOX_BATCH_SIZE: got "0"; expected an integer from 1 to 10000`],
        [{ OUTBOX_RETRY: "exponential:base=5m,cap=1s" }, `(cap 1s is below base 5m)`],
        [{ OUTBOX_CLAIM_MODE: "eager" }, `Invalid OUTBOX_CLAIM_MODE: got "eager"; expected lease or transactional`]
      ]
      for (const [entries, expected] of cases) {
        const error = yield* Effect.flip(read(entries))
        expect(String(error), JSON.stringify(entries)).toContain(expected)
      }
    }))

  it.scoped("layerConfig builds the relay from config, and bad config stops it at start-up", () =>
    Effect.gen(function*() {
      const deps = Layer.merge(MemoryStore.layer, Layer.succeed(Sender.Sender, Sender.Sender.of({ send: () => Effect.succeed([]) })))
      const relayFrom = (entries: Record<string, string>) =>
        RelayConfig.layerConfig({ freshFirst: true }).pipe(
          Layer.provide(deps),
          Layer.provide(Layer.setConfigProvider(fromMap(entries)))
        )
      expect(Exit.isSuccess(yield* Effect.exit(Layer.build(relayFrom({ OUTBOX_BATCH_SIZE: "10" }))))).toBe(true)
      const bad = yield* Effect.exit(Layer.build(relayFrom({ OUTBOX_BATCH_SIZE: "lots" })))
      expect(Exit.isFailure(bad)).toBe(true)
      expect(String(Exit.isFailure(bad) ? bad.cause : "")).toContain(`Invalid OUTBOX_BATCH_SIZE: got "lots"`)
    }))
})
