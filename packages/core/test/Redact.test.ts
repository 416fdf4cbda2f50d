import { Redact } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { Option, Redacted } from "effect"

const secretUrl = "postgres://app:pa%24%24-SECRET@db.internal:5432/shop?sslpassword=tok-SECRET#frag-SECRET"

describe("Redact", () => {
  it("a URL's location keeps scheme, host, port and path, never its user, password, query or fragment", () => {
    const location = Redact.location(Redacted.make(secretUrl))
    expect(location).toEqual(Option.some({ protocol: "postgres:", host: "db.internal:5432", path: "/shop" }))
    expect(JSON.stringify(location)).not.toContain("SECRET")
    expect(Redact.displayUrl(new URL("https://u:p-SECRET@hooks.example/in?token=t-SECRET"))).toBe("https://hooks.example/in")
    expect(Redact.location("not a url")).toEqual(Option.none())
  })

  it("the scrubber removes a URL's secrets from a foreign message, longest first, and leaves short values alone", () => {
    const scrub = Redact.scrubber(Redact.urlSecrets(Redacted.make(secretUrl)))
    expect(scrub(`connect ${secretUrl} failed: password "pa$$-SECRET" refused on port 5432`))
      .toBe(`connect <redacted> failed: password "<redacted>" refused on port 5432`)
    expect(Redact.scrubber(["v=1", "token-SECRET"])("v=1 token-SECRET")).toBe("v=1 <redacted>")
  })
})
