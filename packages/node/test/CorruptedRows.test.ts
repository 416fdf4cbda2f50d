/**
 * Property-style: rows with one randomly corrupted field each (headers, dates,
 * attempts, topic, key, payload shape), written straight into a Postgres
 * outbox between good rows, then drained by a running relay in small batches.
 * Whatever the mix, the relay keeps running, every good message is delivered
 * once, and every bad one ends as a dead letter whose reason names the field.
 */
import { Topic } from "@effect-outbox/core"
import { RecordingSender } from "@effect-outbox/core/testing"
import * as RelayProgress from "@effect-outbox/node/RelayProgress"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer, Schema } from "effect"
import { eventually } from "@effect-outbox/test-support/Eventually"
import { deadLetters, freshSchema, insertRows, outboxRows, Pg, type RawRow, relayOn } from "./hostileRows.js"

const Order = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

/** A row, and what must become of it: delivered, or a dead letter with this reason and a text naming the field. */
interface Case {
  readonly row: RawRow
  readonly expect: { readonly reason: "Malformed" | "Undecodable"; readonly names: string } | "delivered"
}

const control = fc.constantFrom("\r", "\n", "\r\n", "\t", "\u0001", "\u007f")
const headerName = fc.constantFrom("traceparent", "tracestate", "x-app")
const text = fc.string({ maxLength: 12 })
const withControl = fc.tuple(text, control, text).map(([before, bad, after]) => `${before}${bad}${after}`)
const notAString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.record({ nested: text })
)

const goodRow: fc.Arbitrary<RawRow> = fc.record({
  key: fc.option(text, { nil: null }),
  headers: fc.dictionary(headerName, text, { maxKeys: 2 }).map((headers) => JSON.stringify(headers)),
  attempts: fc.integer({ min: 0, max: 5 }),
  payload: fc.integer().map((n) => JSON.stringify({ n }))
})

const malformed = (names: string) => ({ reason: "Malformed" as const, names })

/** One corruption on top of a good row. */
const badCase: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(goodRow, headerName, notAString).map(([row, name, value]): Case => ({
    row: { ...row, headers: JSON.stringify({ [name]: value }) },
    expect: malformed(`headers.${name}`)
  })),
  fc.tuple(goodRow, headerName, withControl).map(([row, name, value]): Case => ({
    row: { ...row, headers: JSON.stringify({ [name]: value }) },
    expect: malformed(`headers.${name}: must not contain control characters`)
  })),
  fc.tuple(goodRow, fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.array(fc.string(), { maxLength: 2 }))).map((
    [row, value]
  ): Case => ({ row: { ...row, headers: JSON.stringify(value) }, expect: malformed("headers:") })),
  fc.tuple(goodRow, fc.constantFrom("infinity", "-infinity")).map(([row, value]): Case => ({
    row: { ...row, created_at: value },
    expect: malformed("created_at: expected a valid date")
  })),
  goodRow.map((row): Case => ({
    row: { ...row, available_at: "-infinity" },
    expect: malformed("available_at: expected a valid date")
  })),
  fc.tuple(goodRow, fc.integer({ min: -2_147_483_648, max: -1 })).map(([row, attempts]): Case => ({
    row: { ...row, attempts },
    expect: malformed("attempts: expected a whole number")
  })),
  fc.tuple(goodRow, fc.integer({ min: -2_147_483_648, max: -1 })).map(([row, lostClaims]): Case => ({
    row: { ...row, lost_claims: lostClaims },
    expect: malformed("lost_claims: expected a whole number")
  })),
  fc.tuple(goodRow, fc.oneof(fc.constant(""), withControl)).map(([row, topic]): Case => ({
    row: { ...row, topic },
    expect: malformed("topic:")
  })),
  fc.tuple(goodRow, withControl).map(([row, key]): Case => ({ row: { ...row, key }, expect: malformed("key:") })),
  fc.tuple(
    goodRow,
    fc.oneof(
      fc.constant(null),
      fc.string({ maxLength: 8 }),
      fc.array(fc.integer(), { maxLength: 2 }),
      fc.record({ n: fc.string({ maxLength: 8 }) }),
      fc.record({ m: fc.integer() })
    )
  ).map(([row, payload]): Case => ({
    row: { ...row, payload: JSON.stringify(payload) },
    expect: { reason: "Undecodable", names: "does not decode with the topic's schema" }
  }))
)

const scenario = fc.array(
  fc.oneof({ arbitrary: goodRow.map((row): Case => ({ row, expect: "delivered" })), weight: 1 }, {
    arbitrary: badCase,
    weight: 1
  }),
  { minLength: 40, maxLength: 40 }
)

describe("randomly corrupted rows on Postgres", () => {
  for (const seed of [13, 1313, 20261202]) {
    it.live(`seed ${seed}: the relay keeps running, every good row is delivered once, every bad one is a dead letter naming its field`, () =>
      Effect.gen(function*() {
        const [cases = []] = fc.sample(scenario, { seed, numRuns: 1 })
        const schema = yield* freshSchema
        const ids = yield* insertRows(schema, cases.map((c) => c.row))
        const running = yield* Layer.build(
          relayOn(schema, RecordingSender.layer(), { batchSize: 7, topics: [Order] })
        )
        yield* Effect.gen(function*() {
          yield* eventually("every row to be settled", Effect.map(outboxRows(schema), (left) => left === 0), 30)
          const sent = yield* RecordingSender.sentIds
          const letters = new Map((yield* deadLetters(schema)).map((letter) => [letter.id, letter]))
          const goods = ids.filter((_, index) => cases[index]?.expect === "delivered")
          expect([...sent].sort()).toEqual([...goods].sort()) // each good one once, no bad one
          ids.forEach((id, index) => {
            const expected = cases[index]?.expect
            if (expected === undefined || expected === "delivered") return expect(letters.has(id)).toBe(false)
            const letter = letters.get(id)
            expect({ id, reason: letter?.reason }).toEqual({ id, reason: expected.reason })
            expect(letter?.last_error).toContain(expected.names)
          })
          expect(letters.size).toBe(ids.length - goods.length)
          const progress = yield* (yield* RelayProgress.RelayProgress).snapshot
          expect(progress.state._tag).toBe("Running")
        }).pipe(Effect.provide(running))
      }).pipe(Effect.scoped, Effect.provide(Pg)), 60_000)
  }
})
