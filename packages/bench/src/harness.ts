/**
 * What every benchmark shares: a fresh schema per scenario on the local
 * Postgres, timing, and the figures' shape. Each figure is reported with the
 * floor measured in the same run, so a noisy machine cannot fake progress.
 */
import pg from "pg"

export const databaseUrl = process.env.OUTBOX_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** One row of the report. */
export interface Figure {
  /** A stable name to follow the figure from run to run (`throughput.lease.b100.r1`); `name` is for people. */
  readonly id: string
  readonly group: string
  readonly name: string
  readonly value: number
  readonly unit: string
  /** The floor (or ceiling) this figure is compared with, and the ratio value/floor. */
  readonly versus?: { readonly name: string; readonly value: number; readonly ratio: number } | undefined
  readonly target?: string | undefined
  readonly note?: string | undefined
  /** Printed after the table (a query plan, say) and kept in bench-results.json. */
  readonly detail?: string | undefined
}

export const now = () => performance.now()

/** Runs `body` with a pg client on a fresh schema (migrated by the store's migrations), dropped after. */
export const withSchema = async <A>(name: string, body: (schema: string) => Promise<A>): Promise<A> => {
  const schema = `bench_${name}_${process.pid}`
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    return await body(schema)
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
  }
}

/** A connected pg client; `end` it when done. */
export const client = async (): Promise<pg.Client> => {
  const connection = new pg.Client({ connectionString: databaseUrl })
  await connection.connect()
  return connection
}

/** Runs one statement on a connection of its own; its rows. */
export const query = async <R extends object = object>(
  text: string,
  params: ReadonlyArray<unknown> = []
): Promise<Array<R>> => {
  const connection = await client()
  try {
    return (await connection.query<R>(text, [...params])).rows
  } finally {
    await connection.end()
  }
}

/** How `seed` keys its messages: `${prefix}${n}` with n < `keys`. */
export interface Keys {
  readonly keys: number
  /** `round-robin`: message g gets key g % keys; `hashed`: a seeded pseudo-random key (the same on every run). */
  readonly spread: "round-robin" | "hashed"
  readonly prefix?: string | undefined
}

/**
 * Inserts `count` ≈200-byte messages into `<schema>.outbox` in one statement,
 * unkeyed unless `keyed` says how; then `VACUUM ANALYZE` unless `analyze` is false.
 */
export const seed = async (schema: string, count: number, keyed?: Keys, analyze = true) => {
  const key = keyed === undefined
    ? "NULL"
    : `$2::text || (${keyed.spread === "round-robin" ? "g % $3" : "abs(hashint4extended(g, 42) % $3)"})`
  await query(
    `INSERT INTO ${schema}.outbox (topic, key, payload)
     SELECT 'order.created', ${key}, jsonb_build_object('orderId', 'order-' || g, 'customer', 'customer-' || (g % 1000), 'total', g * 1.5, 'note', repeat('x', 120))
     FROM generate_series(1, $1) g`,
    keyed === undefined ? [count] : [count, keyed.prefix ?? "k-", keyed.keys]
  )
  if (analyze) await query(`VACUUM ANALYZE ${schema}.outbox`)
}

/** The median of values (NaN when empty). */
export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** The p-th percentile (0..100) of values. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
}

export const ratio = (value: number, floor: number) => (floor === 0 ? Number.NaN : value / floor)
