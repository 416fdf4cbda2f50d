import { MessageRow } from "@effect-outbox/core"
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"

const byTheSchema = Schema.decodeUnknownEither(MessageRow.Row)

const json = fc.jsonValue({ maxDepth: 2 })
const text = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("", "a\r\nb", "\t", "ünï 🎉", "\u007f"))
const count = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, 2_147_483_647, Number.NaN, Infinity), fc.string())
const date = fc.oneof(fc.date(), fc.constant(new Date(Number.NaN)), fc.constantFrom(Infinity, -Infinity, "2026-01-01"))
const headers = fc.oneof(
  fc.constant(null),
  fc.dictionary(fc.string({ maxLength: 4 }), text, { maxKeys: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 2 }),
  json
)

/** Rows near the boundary: each column valid or not, in every combination. */
const row = fc.record({
  topic: fc.oneof(text, json),
  key: fc.oneof(fc.constant(null), text, json),
  payload: json,
  headers,
  attempts: count,
  lost_claims: count,
  created_at: date,
  available_at: date
}, { requiredKeys: ["topic", "key", "headers", "attempts", "lost_claims", "created_at", "available_at"] })

describe("MessageRow", () => {
  it("the fast guard and the Schema agree on every row, valid or corrupted", () => {
    fc.assert(
      fc.property(row, (raw) => {
        expect(MessageRow.isValid(raw)).toBe(Either.isRight(byTheSchema(raw)))
      }),
      { numRuns: 2_000, seed: 13 }
    )
  })

  it("a row that does not decode says which field and why; a valid one becomes the message, attempts counting this delivery", () => {
    const valid = {
      topic: "order.created",
      key: null,
      payload: { n: 1 },
      headers: null,
      attempts: 2,
      lost_claims: 1,
      created_at: new Date(0),
      available_at: new Date(0)
    }
    expect(MessageRow.decode("7", valid)).toEqual(Either.right({
      id: "7",
      topic: "order.created",
      key: null,
      payload: { n: 1 },
      headers: {},
      attempts: 3,
      lostClaims: 1,
      createdAt: new Date(0),
      availableAt: new Date(0)
    }))
    expect(MessageRow.decode("7", { ...valid, attempts: 2_147_483_647 })).toMatchObject({ right: { attempts: 2_147_483_647 } })
    expect(MessageRow.decode("8", { ...valid, key: "k-1", headers: { traceparent: 123 }, created_at: Infinity })).toEqual(
      Either.left({
        id: "8",
        error:
          "the stored row does not decode: headers.traceparent: Expected string, actual 123; created_at: expected a valid date, not Infinity",
        topic: "order.created",
        key: "k-1"
      })
    )
  })
})
