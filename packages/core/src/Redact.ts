/**
 * Keeping secrets out of logs and error messages: the parts of a URL that
 * are safe to show (scheme, host, port and path; never the user, password,
 * query or fragment, where credentials and tokens travel), and a scrubber
 * that removes known secret values from a foreign text (a driver's or a
 * server's error message) before it is shown.
 *
 * @example
 * import { Redact } from "@effect-outbox/core"
 * import { Option, Redacted } from "effect"
 *
 * const url = Redacted.make("amqp://relay:s3cret@rabbit:5672/orders?token=abc")
 * Option.map(Redact.location(url), ({ host, path }) => `RabbitMQ at ${host}${path}`) // "RabbitMQ at rabbit:5672/orders"
 * const scrub = Redact.scrubber(Redact.urlSecrets(url))
 * scrub("login failed for amqp://relay:s3cret@rabbit:5672/orders?token=abc") // "login failed for <redacted>"
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/**
 * The parts of a URL that carry no secret.
 *
 * @category models
 * @since 0.1.0
 */
export interface Location {
  /** With its colon: `https:`. */
  readonly protocol: string
  /** The host name and port, if any: `db.internal:5432`. */
  readonly host: string
  /** The path, `""` or starting with `/`. */
  readonly path: string
}

const textOf = (url: string | Redacted.Redacted<string>): string => (Redacted.isRedacted(url) ? Redacted.value(url) : url)

/**
 * The safe parts of a URL, or `None` when the text is not a URL.
 *
 * @category utils
 * @since 0.1.0
 */
export const location = (url: string | Redacted.Redacted<string> | URL): Option.Option<Location> => {
  if (url instanceof URL) return Option.some({ protocol: url.protocol, host: url.host, path: url.pathname })
  const text = textOf(url)
  return URL.canParse(text) ? location(new URL(text)) : Option.none()
}

/**
 * A parsed URL as it may appear in errors and logs: `scheme://host:port/path`.
 *
 * @category utils
 * @since 0.1.0
 */
export const displayUrl = (url: URL): string => `${url.protocol}//${url.host}${url.pathname}`

/**
 * The values a URL's secrets can appear as in a foreign message, for
 * `scrubber`: the whole URL, and its password as given and decoded.
 *
 * @category utils
 * @since 0.1.0
 */
export const urlSecrets = (url: string | Redacted.Redacted<string>): ReadonlyArray<string> => {
  const text = textOf(url)
  return [text, URL.canParse(text) ? decodeURIComponent(new URL(text).password) : ""]
}

/**
 * Makes a function that replaces every occurrence of the given secret values
 * in a text with `<redacted>`, so an error text built from a foreign message
 * (a transport error, a response body that echoes a header) cannot carry one out.
 *
 * @category utils
 * @since 0.1.0
 */
export const scrubber = (secrets: ReadonlyArray<string>): (text: string) => string => {
  // Longest first, so a secret containing another is replaced whole. Values
  // under 4 characters (a query flag like `v=1`) would garble every message
  // (status codes, ports) while protecting nothing.
  const values = [...new Set(secrets.filter((secret) => secret.length >= 4))].sort((a, b) => b.length - a.length)
  return (text) => values.reduce((scrubbed, secret) => scrubbed.split(secret).join("<redacted>"), text)
}
