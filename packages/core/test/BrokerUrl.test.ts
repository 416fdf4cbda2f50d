import { BrokerUrl } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"

describe("BrokerUrl", () => {
  it("a URL with an accepted scheme and a host is the URL", () => {
    const url = BrokerUrl.parse("amqps://relay:s3cret@rabbit:5671/orders", ["amqp:", "amqps:"])
    expect(Either.map(url, (url) => url.host)).toEqual(Either.right("rabbit:5671"))
  })

  it("says what is wrong, without repeating the URL", () => {
    expect(BrokerUrl.parse("not a url s3cret", ["nats:"])).toEqual(Either.left("it is not a URL"))
    expect(BrokerUrl.parse("http://u:s3cret@broker", ["redis:", "rediss:"]))
      .toEqual(Either.left("the scheme must be redis: or rediss:, not http:"))
    expect(BrokerUrl.parse("nats:///orders", ["nats:"])).toEqual(Either.left("it has no host"))
  })
})
