/** Relay throughput vs the two-step floor and the one-statement ceiling, on the same table. */
import { Effect } from "effect"
import { oneStatementDrain, twoStepDrain } from "./floors.js"
import { type Figure, ratio, seed, withSchema } from "./harness.js"
import { migrate, relayDrain } from "./library.js"

const cases = (quick: boolean) => [
  { batchSize: 1, relays: 1, total: quick ? 1_000 : 5_000 },
  { batchSize: 10, relays: 1, total: quick ? 5_000 : 20_000 },
  { batchSize: 100, relays: 1, total: quick ? 10_000 : 20_000 },
  { batchSize: 100, relays: 2, total: quick ? 10_000 : 20_000 }
]

export const run = async (quick: boolean): Promise<Array<Figure>> => {
  const figures: Array<Figure> = []
  for (const { batchSize, relays, total } of cases(quick)) {
    const measured = await withSchema(`tp${batchSize}x${relays}`, async (schema) => {
      await Effect.runPromise(migrate(schema))
      await seed(schema, total)
      const twoStep = await twoStepDrain(schema, batchSize, relays)
      await seed(schema, total)
      const oneStatement = await oneStatementDrain(schema, batchSize, relays)
      await seed(schema, total)
      const relay = await Effect.runPromise(relayDrain(schema, { batchSize, relays, total }))
      return { twoStep, oneStatement, relay }
    })
    const label = `batch ${batchSize}, ${relays} relay${relays === 1 ? "" : "s"}, ${total} msgs`
    figures.push(
      { group: "throughput", name: `floor: two-step pg loop (${label})`, value: measured.twoStep, unit: "msg/s" },
      { group: "throughput", name: `ceiling: one-statement DELETE (${label})`, value: measured.oneStatement, unit: "msg/s" },
      {
        group: "throughput",
        name: `relay, lease mode (${label})`,
        value: measured.relay,
        unit: "msg/s",
        versus: { name: "two-step floor", value: measured.twoStep, ratio: ratio(measured.relay, measured.twoStep) },
        note: `${ratio(measured.relay, measured.oneStatement).toFixed(2)}× the one-statement ceiling`,
        target: batchSize === 100 && relays === 1 ? "≥ 0.8× (stretch 1.3×)" : undefined
      }
    )
  }
  return figures
}
