// A sample line of the Prometheus text format: name, optional {labels}, value, optional timestamp.
const sampleLine =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)(?: -?\d+)?$/
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** A strict little parser of the Prometheus text exposition format: every line must be valid, every sample typed. */
export const parsePrometheus = (text: string) => {
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  const errors: Array<string> = []
  for (const line of text.split("\n")) {
    if (line === "") continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type?.[1] !== undefined && type[2] !== undefined) {
      types.set(type[1], type[2])
      continue
    }
    if (line.startsWith("#")) continue // HELP and other comments
    const sample = sampleLine.exec(line)
    const value = sample?.[3] === undefined ? NaN : Number(sample[3].replace("Inf", "Infinity"))
    if (sample?.[1] === undefined || Number.isNaN(value)) {
      errors.push(`not a sample: ${line}`)
      continue
    }
    const name = sample[1]
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "")
    if (!types.has(family)) errors.push(`sample of an undeclared family: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, raw] of (sample[2] ?? "").matchAll(labelPair)) {
      if (key !== undefined && raw !== undefined) labels[key] = raw.replace(/\\(["\\n])/g, "$1")
    }
    samples.push({ name, labels, value })
  }
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((sample) =>
      sample.name === name && Object.entries(labels).every(([key, v]) => sample.labels[key] === v)
    )?.value
  return { types, samples, errors, value }
}
