import { OutboxStore, Topic } from "@effect-outbox/core"
import { Migrations, SqlOutboxStore } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Redacted, Schema } from "effect"
import { runToEnd } from "./outboxProcess.js"

const databaseUrl = process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `cli_${process.pid}`
const Pg = PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 2 })
const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | PgClient.PgClient>) =>
  Effect.runPromise(Effect.provide(effect, Pg))

const Order = Topic.make("order.created", Schema.Struct({ n: Schema.Number }))

// Three dead letters: two Rejected (one on another topic), one Exhausted.
const seedDeadLetters = Effect.gen(function*() {
  const store = yield* SqlOutboxStore.make({ schema })
  yield* store.append([1, 2, 3].map((n) => ({ topic: n === 3 ? "invoice.sent" : Order.name, key: null, payload: { n }, headers: {} })))
  const claim = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30) })
  yield* store.complete(
    claim.token,
    claim.messages.map((message, i) =>
      OutboxStore.Completion.DeadLetter({ id: message.id, reason: i === 1 ? "Exhausted" : "Rejected", error: "receiver said no" })
    )
  )
}).pipe(Effect.scoped)

// Ordered delivery, in a schema of its own: key o-1's head was dead-lettered and
// parks the key (its second message waits); o-2's head was delivered.
const parkedSchema = `cli_parked_${process.pid}`
const Paid = Topic.make("order.paid", Schema.Struct({ n: Schema.Number }))
const seedParkedKey = Effect.gen(function*() {
  const store = yield* SqlOutboxStore.make({ schema: parkedSchema })
  const [head] = yield* store.append(
    [["o-1", 1], ["o-1", 2], ["o-2", 3]].map(([key, n]) => ({ topic: Paid.name, key: String(key), payload: { n }, headers: {} }))
  )
  const claim = yield* store.claim({ batchSize: 10, leaseFor: Duration.seconds(30), ordered: "all" })
  yield* store.complete(
    claim.token,
    claim.messages.map((message) =>
      message.id === head
        ? OutboxStore.Completion.DeadLetter({ id: message.id, reason: "Rejected", error: "422 unknown customer", parkKey: true })
        : OutboxStore.Completion.Ack({ id: message.id })
    )
  )
}).pipe(Effect.scoped)

const db = ["--database-url", databaseUrl, "--schema", schema]
const parkedDb = ["--database-url", databaseUrl, "--schema", parkedSchema]

beforeAll(() =>
  run(Effect.all([
    Effect.zipRight(Migrations.run({ schema }), seedDeadLetters),
    Effect.zipRight(Migrations.run({ schema: parkedSchema }), seedParkedKey)
  ])), 60_000)
afterAll(() =>
  run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([schema, parkedSchema].map((name) => sql`DROP SCHEMA IF EXISTS ${sql(name)} CASCADE`)))))

/** The JSON lines of an output (logs and counts are plain text). */
const jsonLines = (output: string) =>
  output.trim().split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))

describe("outbox CLI", () => {
  it("a bad setting exits 2 with one line naming it and the expected form", async () => {
    const fromEnv = await runToEnd(["drain", "--once"], { OUTBOX_BATCH_SIZE: "abc", OUTBOX_SENDER: "http://127.0.0.1:9/hook" })
    expect(fromEnv.code).toBe(2)
    expect(fromEnv.output.trim().split("\n")).toEqual([
      `outbox: Invalid OUTBOX_BATCH_SIZE (--batch-size): got "abc"; expected an integer from 1 to 10000`
    ])
    const fromFlag = await runToEnd(["drain", "--once", "--lease", "5 parsecs", "--retry", "forever"], {
      OUTBOX_SENDER: "http://127.0.0.1:9/hook"
    })
    expect(fromFlag.code).toBe(2)
    expect(fromFlag.output.trim()).toBe(
      `outbox: Invalid OUTBOX_RETRY (--retry): got "forever"; expected exponential-jitter[:base=1s,cap=5m,attempts=10], exponential[:base=…,cap=…,attempts=…], fixed:delay=5s[,attempts=10] or none`
    )
    const ordered = await runToEnd(["drain", "--once"], { OUTBOX_ORDERED: "order.created,", OUTBOX_SENDER: "http://127.0.0.1:9/hook" })
    expect(ordered.code).toBe(2)
    expect(ordered.output.trim().split("\n")).toEqual([
      `outbox: Invalid OUTBOX_ORDERED (--ordered): got "order.created,"; expected true or false (also yes/no, on/off, 1/0) or a comma-separated list of topic names`
    ])
    const policy = await runToEnd(["run", "--ordered", "true", "--dead-lettered-key", "drop"], { OUTBOX_SENDER: "http://127.0.0.1:9/hook" })
    expect(policy.code).toBe(2)
    expect(policy.output.trim().split("\n")).toEqual([
      `outbox: Invalid OUTBOX_DEAD_LETTERED_KEY (--dead-lettered-key): got "drop"; expected block or skip`
    ])
    const missing = await runToEnd(["run"], {})
    expect(missing.code).toBe(2)
    expect(missing.output.trim()).toBe(
      "outbox: Invalid OUTBOX_SENDER (--sender): it is not set; expected an http(s)://, nats:// or amqp(s):// URL"
    )
  })

  it("secret values never appear in any output", async () => {
    const secrets = {
      OUTBOX_DATABASE_URL: "postgres://outbox:Db-Pa55word-XYZ@127.0.0.1:1/outbox",
      OUTBOX_SENDER: "https://hook-user:Hook-Pa55-QRS@127.0.0.1:9/hook",
      OUTBOX_SIGNING_SECRET: "whsec_c2lnbmluZy1zZWNyZXQtdmFsdWUtMTIzNDU=",
      OUTBOX_ADMIN_TOKEN: "admin-token-value-7890abcdef"
    }
    const outputs = [
      // Cannot reach the database: a one-shot command fails (`run` would wait for it).
      await runToEnd(["drain", "--once"], secrets),
      await runToEnd(["run", "--help"], secrets),
      await runToEnd(["drain", "--once"], { ...secrets, OUTBOX_ADMIN_TOKEN: "short", OUTBOX_DATABASE_URL: "mysql://u:Db-Pa55word-XYZ@h/db" }),
      await runToEnd(["run"], { ...secrets, OUTBOX_SENDER: "ftp://hook-user:Hook-Pa55-QRS@host/x" })
    ]
    expect(outputs[0]?.code).toBe(1)
    expect(outputs[0]?.output).toContain("Cannot open the outbox (Postgres at 127.0.0.1:1/outbox)")
    expect(outputs[2]?.code).toBe(2)
    expect(outputs[2]?.output).toContain("Invalid OUTBOX_DATABASE_URL (--database-url): the value given is not valid")
    expect(outputs[3]?.output).toContain("Invalid OUTBOX_SENDER (--sender): the value given is not valid")
    for (const { output } of outputs) {
      for (const leak of ["Db-Pa55word-XYZ", "Hook-Pa55-QRS", "c2lnbmluZy1zZWNyZXQtdmFsdWUtMTIzNDU=", "admin-token-value-7890abcdef", "short"]) {
        expect(output).not.toContain(leak)
      }
    }
  }, 60_000)

  it("--help works for every command, and --version prints the version", async () => {
    const helps = new Map<string, string>()
    for (const command of [[], ["run"], ["migrate"], ["drain"], ["dead-letters"], ["dead-letters", "list"], ["dead-letters", "parked"], ["dead-letters", "replay"], ["dead-letters", "purge"], ["stats"], ["demo"]]) {
      const help = await runToEnd([...command, "--help"])
      expect(help.code, `outbox ${command.join(" ")} --help`).toBe(0)
      expect(help.output).toContain("USAGE")
      helps.set(command.join(" "), help.output)
    }
    // Every relay on one outbox must agree on ordering: both commands that relay take it.
    for (const command of ["run", "drain"]) {
      expect(helps.get(command), `outbox ${command} --help`).toContain("--ordered")
      expect(helps.get(command), `outbox ${command} --help`).toContain("--dead-lettered-key")
    }
    const version = await runToEnd(["--version"])
    expect(version.output.trim()).toBe("0.1.0")
  }, 60_000)

  it("dead-letters list, replay and purge act on the filtered letters and say how many", async () => {
    const list = await runToEnd(["dead-letters", "list", ...db, "--topic", "order.created"])
    expect(list.code).toBe(0)
    const listed = list.output.trim().split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
    expect(listed.map((letter) => [letter.reason, letter.payload.n])).toEqual([["Rejected", 1], ["Exhausted", 2]])

    const dryRun = await runToEnd(["dead-letters", "replay", ...db, "--reason", "Exhausted", "--dry-run"])
    expect(dryRun.output).toContain("Would replay 1 dead letter (dry run).")
    const replay = await runToEnd(["dead-letters", "replay", ...db, "--reason", "Exhausted"])
    expect(replay.output).toContain("Replayed 1 dead letter.")

    const unfiltered = await runToEnd(["dead-letters", "purge", ...db])
    expect(unfiltered.code).toBe(2)
    expect(unfiltered.output.trim()).toContain("outbox: Invalid --all: no filter given")
    const badFilter = await runToEnd(["dead-letters", "list", ...db, "--older-than", "soon"])
    expect(badFilter.code).toBe(2)
    expect(badFilter.output.trim()).toBe("outbox: Invalid --older-than: expected a duration like 90 (seconds), 15m, 2h or 7d")
    const purge = await runToEnd(["dead-letters", "purge", ...db, "--all"])
    expect(purge.output).toContain("Purged 2 dead letters.")

    const stats = await runToEnd(["stats", ...db])
    expect(JSON.parse(stats.output.trim().split("\n").at(-1) ?? "{}")).toMatchObject({
      pending: 1,
      inFlight: 0,
      dead: 0,
      parkedKeys: 0
    })
  }, 60_000)

  it("dead-letters parked lists the parked keys; drain --ordered holds them back until the letter is purged", async () => {
    const parked = await runToEnd(["dead-letters", "parked", ...parkedDb])
    expect(parked.code).toBe(0)
    expect(parked.output).toContain("1 parked key")
    const keys = jsonLines(parked.output)
    expect(keys).toEqual([{
      key: "o-1",
      messageId: expect.any(String),
      topic: "order.paid",
      reason: "Rejected",
      lastError: "422 unknown customer",
      since: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/)
    }])
    const letter: string = keys[0].messageId
    const list = jsonLines((await runToEnd(["dead-letters", "list", ...parkedDb])).output)
    expect(list.map((l) => [l.id, l.key, l.parksKey])).toEqual([[letter, "o-1", true]])
    const stats = await runToEnd(["stats", ...parkedDb])
    expect(jsonLines(stats.output).at(-1)).toMatchObject({ pending: 1, dead: 1, parkedKeys: 1 })

    const badLimit = await runToEnd(["dead-letters", "parked", ...parkedDb, "--limit", "0"])
    expect(badLimit.code).toBe(2)
    expect(badLimit.output.trim()).toBe("outbox: Invalid --limit: expected a whole number of at least 1")

    // o-1's second message waits behind the parked key: an ordered drain claims nothing.
    const sender = ["--sender", "http://127.0.0.1:9/hook", "--retry", "fixed:delay=1h"]
    const held = await runToEnd(["drain", "--once", "--ordered", "true", ...sender, ...parkedDb])
    expect(held.code).toBe(0)
    expect(jsonLines(held.output).at(-1)).toMatchObject({ claimed: 0 })

    const purge = await runToEnd(["dead-letters", "purge", ...parkedDb, "--ids", letter])
    expect(purge.output).toContain("Purged 1 dead letter.")
    expect(jsonLines((await runToEnd(["dead-letters", "parked", ...parkedDb])).output)).toEqual([])
    // The key moves on: its second message is claimed (and, with no receiver on port 9, retried later).
    const resumed = await runToEnd(["drain", "--once", "--ordered", "true", ...sender, ...parkedDb])
    expect(jsonLines(resumed.output).at(-1)).toMatchObject({ claimed: 1, retried: 1 })
    expect(jsonLines((await runToEnd(["stats", ...parkedDb])).output).at(-1)).toMatchObject({ dead: 0, parkedKeys: 0 })
  }, 60_000)
})
