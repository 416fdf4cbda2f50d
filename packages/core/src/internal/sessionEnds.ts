/**
 * The supervisor's vocabulary for how sessions fail and end: what opening one
 * can fail with, why one ended, and the error of a supervisor that gave up.
 * Public through `Reconnect`, which re-exports each.
 */
import * as Data from "effect/Data"

/**
 * Opening a session failed. `Auth` (credentials or permissions refused) and
 * `Config` (the broker refuses the sender's setup, e.g. a missing stream or
 * exchange) are not retried; `Transient` (refused, reset, timed out) is.
 * `reason` is shown to people: it must not contain secrets.
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly kind: "Auth" | "Config" | "Transient"
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return this.reason
  }
}

/**
 * Why a session ended.
 */
export type CloseReason = Data.TaggedEnum<{
  /** Lost unexpectedly (socket reset, missed heartbeats, a channel error): spends budget. */
  Dropped: { readonly reason: string }
  /** The server announced it (drain, lame duck, forced close): reconnect without spending budget. */
  Drained: { readonly reason: string }
  /** Closed cleanly, without the server announcing why: reconnect, spending budget like a drop. */
  Closed: { readonly reason: string }
  /** The server revoked our authorization mid-session: give up at once, like an `Auth` error. */
  Revoked: { readonly reason: string }
}>

/**
 * Constructors and matchers for `CloseReason`.
 */
export const CloseReason = Data.taggedEnum<CloseReason>()

/**
 * The supervisor gave up (or was shut down): every send through it fails with this.
 */
export class ReconnectError extends Data.TaggedError("ReconnectError")<{
  /** The broker, as people know it (no credentials): "NATS at 10.0.0.5:4222". */
  readonly broker: string
  readonly reason: "Auth" | "Config" | "Revoked" | "Exhausted" | "Shutdown"
  /** The last cause, safe to show. */
  readonly detail: string
  /** Failed attempts and drops in a row when it gave up. */
  readonly failures: number
  readonly cause?: unknown
}> {
  override get message() {
    switch (this.reason) {
      case "Auth":
        return `${this.broker} refused the credentials or permissions (not retried): ${this.detail}`
      case "Config":
        return `${this.broker} refused the sender's configuration (not retried): ${this.detail}`
      case "Revoked":
        return `${this.broker} revoked the session's authorization: ${this.detail}`
      case "Exhausted":
        return `Gave up on ${this.broker} after ${this.failures} failed connection attempts and drops in a row: ${this.detail}`
      case "Shutdown":
        return `The connection to ${this.broker} was shut down`
    }
  }
}
