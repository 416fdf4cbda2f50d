/** Memory while the relay drains a large backlog: peak RSS and heap, and whether the heap stays flat. */
import { Effect } from "effect"
import { type Figure, seed, withSchema } from "./harness.js"
import { migrate, relayDrain } from "./library.js"

export const run = (quick: boolean): Promise<Array<Figure>> =>
  withSchema("memory", async (schema) => {
    const total = quick ? 50_000 : 200_000
    await Effect.runPromise(migrate(schema))
    await seed(schema, total)
    const samples: Array<{ rss: number; heap: number }> = []
    const sample = () => {
      const usage = process.memoryUsage()
      samples.push({ rss: usage.rss, heap: usage.heapUsed })
    }
    const timer = setInterval(sample, 50)
    const rate = await Effect.runPromise(relayDrain(schema, { batchSize: 100, relays: 1, total }))
    clearInterval(timer)
    sample()
    const mb = (bytes: number) => bytes / 1024 / 1024
    const half = Math.floor(samples.length / 2)
    const maxHeap = (part: typeof samples) => Math.max(...part.map((s) => s.heap))
    // Warm-up is the first half; flat means the second half's peak is within 20% of the first's.
    const growth = maxHeap(samples.slice(half)) / maxHeap(samples.slice(0, Math.max(1, half)))
    return [
      { id: "memory.rss.peak", group: "memory", name: `peak RSS draining ${total} messages (${rate.toFixed(0)} msg/s)`, value: mb(Math.max(...samples.map((s) => s.rss))), unit: "MiB" },
      { id: "memory.heap.peak", group: "memory", name: "peak heap used", value: mb(Math.max(...samples.map((s) => s.heap))), unit: "MiB" },
      {
        id: "memory.heap.growth",
        group: "memory",
        name: "heap peak, second half vs first half of the drain",
        value: growth,
        unit: "×",
        target: "flat (≤ 1.2×)",
        note: growth <= 1.2 ? "flat" : "grows"
      }
    ]
  })
