/**
 * The checks every broker sender's URL passes before its own parameters are
 * read: it is a URL, its scheme is one the sender speaks, and it names a
 * host. A failure is the problem in words, which each package wraps in its
 * own `InvalidUrl`; the words never repeat the URL (it may hold secrets).
 *
 * @example
 * import { BrokerUrl } from "@effect-outbox/core"
 *
 * BrokerUrl.parse("nats://broker:4222", ["nats:"])   // Either.right(URL)
 * BrokerUrl.parse("http://broker", ["nats:"])        // Either.left("the scheme must be nats:, not http:")
 * BrokerUrl.parse("redis://", ["redis:", "rediss:"]) // Either.left("it has no host")
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"

/**
 * The URL in `text` if it parses, has one of `schemes` (each with its colon:
 * `"amqp:"`) and names a host; otherwise what is wrong with it.
 *
 * @category utils
 * @since 0.1.0
 */
export const parse = (text: string, schemes: ReadonlyArray<string>): Either.Either<URL, string> => {
  if (!URL.canParse(text)) return Either.left("it is not a URL")
  const url = new URL(text)
  if (!schemes.includes(url.protocol)) return Either.left(`the scheme must be ${schemes.join(" or ")}, not ${url.protocol}`)
  if (url.hostname === "") return Either.left("it has no host")
  return Either.right(url)
}
