/**
 * Relay throughput in both claim modes against two hand-written floors on the
 * same table: the two-step loop (lease, then delete) and the transactional loop
 * (BEGIN; DELETE … RETURNING; COMMIT). Each cell drains enough messages to last
 * seconds (sized on a calibration drain); the four contenders run in alternating rounds and each reports its
 * median, so a change in the machine's load hits them alike.
 */
import { Effect } from "effect"
import { transactionalDrain, twoStepDrain } from "./floors.js"
import { type Figure, median, ratio, seed, withSchema } from "./harness.js"
import { migrate, relayDrain } from "./library.js"

const cases = [
  { batchSize: 1, relays: 1 },
  { batchSize: 10, relays: 1 },
  { batchSize: 100, relays: 1 },
  { batchSize: 100, relays: 2 }
]

/**
 * How many messages a cell drains: what the two-step floor drains in `seconds`
 * (measured on a short calibration drain), so a cell lasts seconds whatever the
 * machine's load, within bounds.
 */
const calibrate = async (schema: string, batchSize: number, relays: number, seconds: number) => {
  const sample = Math.max(200, batchSize * 30)
  await seed(schema, sample)
  const rate = await twoStepDrain(schema, batchSize, relays)
  return Math.round(Math.min(100_000, Math.max(batchSize * 20, rate * seconds)) / batchSize) * batchSize
}

type Contender = "floor" | "floor-transactional" | "lease" | "transactional"
const contenders: ReadonlyArray<Contender> = ["floor", "floor-transactional", "lease", "transactional"]

const drain = (contender: Contender, schema: string, batchSize: number, relays: number, total: number) => {
  switch (contender) {
    case "floor":
      return twoStepDrain(schema, batchSize, relays)
    case "floor-transactional":
      return transactionalDrain(schema, batchSize, relays)
    default:
      return Effect.runPromise(relayDrain(schema, { batchSize, relays, total, claimMode: contender }))
  }
}

/** Each contender's median msg/s per case, keyed `b<batch>.r<relays>`. */
export type Medians = ReadonlyMap<string, Readonly<Record<Contender, number>>>

export const run = async (quick: boolean): Promise<Array<Figure>> => {
  const rounds = quick ? 1 : 3
  const figures: Array<Figure> = []
  const medians = new Map<string, Record<Contender, number>>()
  for (const { batchSize, relays } of cases) {
    const cell = `b${batchSize}.r${relays}`
    let total = 0
    const rates = await withSchema(`tp${batchSize}x${relays}`, async (schema) => {
      await Effect.runPromise(migrate(schema))
      total = await calibrate(schema, batchSize, relays, quick ? 1 : 3)
      const rates: Record<Contender, Array<number>> = { floor: [], "floor-transactional": [], lease: [], transactional: [] }
      for (let round = 0; round < rounds; round++) {
        for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
          await seed(schema, total)
          rates[contender].push(await drain(contender, schema, batchSize, relays, total))
        }
      }
      return rates
    })
    const m = {
      floor: median(rates.floor),
      "floor-transactional": median(rates["floor-transactional"]),
      lease: median(rates.lease),
      transactional: median(rates.transactional)
    }
    medians.set(cell, m)
    const label = `batch ${batchSize}, ${relays} relay${relays === 1 ? "" : "s"}, ${total} msgs, median of ${rounds}`
    const spread = (values: ReadonlyArray<number>) => `rounds ${values.map((v) => v.toFixed(0)).join(" / ")}`
    /** A contender's median in this cell, as a ratio to the two-step floor. */
    const versusTwoStepFloor = (contender: Exclude<Contender, "floor">, name: string, target?: string): Figure => ({
      id: `throughput.${contender}.${cell}`,
      group: "throughput",
      name: `${name} (${label})`,
      value: m[contender],
      unit: "msg/s",
      versus: { name: "two-step floor", value: m.floor, ratio: ratio(m[contender], m.floor) },
      target,
      note: spread(rates[contender])
    })
    figures.push(
      { id: `throughput.floor.${cell}`, group: "throughput", name: `floor: two-step pg loop (${label})`, value: m.floor, unit: "msg/s", note: spread(rates.floor) },
      versusTwoStepFloor("floor-transactional", "floor: transactional pg loop, BEGIN/DELETE…RETURNING/COMMIT"),
      versusTwoStepFloor("lease", "relay, lease mode", relays === 1 ? (batchSize === 100 ? "≥ 0.8×" : "≥ 0.7×") : undefined),
      versusTwoStepFloor("transactional", "relay, transactional mode", batchSize === 100 && relays === 1 ? "≥ 1.3×" : undefined),
      {
        id: `throughput.transactional-vs-own-floor.${cell}`,
        group: "throughput",
        name: `relay, transactional mode vs its hand-written floor (${label})`,
        value: m.transactional,
        unit: "msg/s",
        versus: {
          name: "transactional floor",
          value: m["floor-transactional"],
          ratio: ratio(m.transactional, m["floor-transactional"])
        },
        target: "≥ 0.8×"
      }
    )
  }
  const one = medians.get("b100.r1")
  const two = medians.get("b100.r2")
  if (one !== undefined && two !== undefined) {
    const floorScaling = ratio(two.floor, one.floor)
    for (const contender of contenders) {
      const scaling = ratio(two[contender], one[contender])
      figures.push({
        id: `scaling.${contender}.b100`,
        group: "throughput",
        name: `2 relays / 1 relay, ${contender} (batch 100)`,
        value: scaling,
        unit: "×",
        ...(contender === "floor"
          ? {}
          : {
            versus: { name: "the two-step floor's own 2/1", value: floorScaling, ratio: ratio(scaling, floorScaling) },
            target: contender === "lease" || contender === "transactional" ? "≥ 1× (the floor's 2/1)" : undefined
          })
      })
    }
  }
  return figures
}
