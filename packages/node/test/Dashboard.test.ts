// The dashboard in a real browser (Debian's Chromium through Playwright),
// against a runner on the real Postgres: what the page shows, and what its
// buttons do to the outbox.
import { RecordingSender } from "@effect-outbox/core/testing"
import { Dashboard, ManagementServer, OrdersDemo, PrometheusMetrics, RelayHeartbeat, RelayProgress } from "@effect-outbox/node"
import { Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Deferred, Effect, Fiber, Layer, ManagedRuntime, Redacted } from "effect"
import { mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { BrowserContext, Page } from "playwright-core"
import { launch } from "./browser.js"

const databaseUrl = process.env.OUTBOX_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const adminToken = "dashboard-admin-token-0123456789"
const readToken = "dashboard-read-only-token-98765"
const schema = `t_dash_${process.pid}_${Math.floor(Math.random() * 1e9).toString(36)}`

const runnerLayer = Layer.mergeAll(
  ManagementServer.layer({
    port: 0,
    host: "127.0.0.1",
    adminToken: Redacted.make(adminToken),
    adminReadToken: Redacted.make(readToken),
    readiness: { stallThreshold: "10 minutes" }
  }).pipe(Layer.provide(PrometheusMetrics.layer())),
  RelayProgress.layerRelay({ ordered: true, batchSize: 50, pollInterval: "100 millis", shutdownTimeout: "2 seconds" }),
  RelayHeartbeat.layer({ batchSize: 50, concurrency: 1, ordered: true, interval: "1 second" })
).pipe(
  Layer.provideMerge(RecordingSender.layer()),
  Layer.provideMerge(RelayProgress.layer),
  Layer.provideMerge(Dashboard.layer({ schema })),
  Layer.provideMerge(SqlOutboxStore.layer({ schema }).pipe(Layer.provide(Notifications.layerPg))),
  Layer.provideMerge(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 4, applicationName: "outbox-dashboard-test" }))
)

let runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<typeof runnerLayer>, Layer.Layer.Error<typeof runnerLayer>>
let url = ""
let browser: { context: BrowserContext; close: () => Promise<void> }

const run = <A, E>(effect: Effect.Effect<A, E, Layer.Layer.Success<typeof runnerLayer>>) => runtime.runPromise(effect)

const query = <A extends object>(text: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<A>, unknown>) =>
  run(Effect.flatMap(SqlClient.SqlClient, text))

/** Inserts a dead letter straight into the table (id drawn from the outbox's sequence); returns its id. */
const deadLetter = async (letter: {
  topic: string
  payload: unknown
  error: string
  reason?: "Exhausted" | "Rejected" | "Undecodable"
  key?: string
  parksKey?: boolean
}) => {
  const [row] = await query<{ id: string }>((sql) =>
    sql`INSERT INTO ${sql(`${schema}.outbox_dead_letters`)}
        (id, topic, key, payload, headers, attempts, created_at, available_at, reason, last_error, parks_key)
      VALUES (nextval(pg_get_serial_sequence(${`${schema}.outbox`}, 'id')), ${letter.topic}, ${letter.key ?? null},
        ${JSON.stringify(letter.payload)}::jsonb,
        ${JSON.stringify({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" })}::jsonb,
        3, now(), now(), ${letter.reason ?? "Exhausted"}, ${letter.error}, ${letter.parksKey ?? false})
      RETURNING id::text AS id`)
  return row?.id ?? ""
}

const letterIds = async (topic: string) =>
  (await query<{ id: string }>((sql) =>
    sql`SELECT id::text AS id FROM ${sql(`${schema}.outbox_dead_letters`)} WHERE topic = ${topic} ORDER BY id`)).map((row) => row.id)

/** Waits for `check` to pass, retrying until `seconds` have gone by; then fails with its last error. */
const eventually = async <A>(check: () => Promise<A>, seconds = 30): Promise<A> => {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

const text = async (page: Page, testId: string) => (await page.getByTestId(testId).textContent())?.trim() ?? ""

/** Opens the dashboard in a new tab (fresh sessionStorage) and enters `token`. */
const signIn = async (token: string) => {
  const page = await browser.context.newPage()
  await page.goto(`${url}/`)
  await page.getByTestId("token").fill(token)
  await page.getByTestId("token-submit").click()
  await page.getByTestId("tab-overview").waitFor()
  return page
}

/** Shows the dead letters of one topic. */
const filterDeadLetters = async (page: Page, filters: Record<string, string>) => {
  await page.getByTestId("tab-dead-letters").click()
  for (const [name, value] of Object.entries(filters)) await page.getByTestId(`filter-${name}`).fill(value)
  await page.getByTestId("apply-filters").click()
}

beforeAll(async () => {
  browser = await launch()
  runtime = ManagedRuntime.make(runnerLayer)
  url = (await runtime.runPromise(ManagementServer.ManagementServer)).url
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await runtime?.dispose()
  await Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 }))
    )
  )
}, 60_000)

describe("dashboard", () => {
  it("shows the counts of a seeded outbox, its readiness and its relay", async () => {
    // Key k-parked is parked behind a dead letter, so its two messages stay due;
    // the rest wait for a delay, for a retry, or are leased by another relay.
    await run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql.withTransaction(Effect.gen(function*() {
        const outbox = sql(`${schema}.outbox`)
        yield* sql`INSERT INTO ${sql(`${schema}.outbox_dead_letters`)}
            (id, topic, key, payload, headers, attempts, created_at, available_at, reason, last_error, parks_key)
          VALUES (nextval(pg_get_serial_sequence(${`${schema}.outbox`}, 'id')), 'orders', 'k-parked', '{}'::jsonb, '{}'::jsonb,
            1, now(), now(), 'Rejected', '422', true)`
        yield* sql`INSERT INTO ${outbox} (topic, key, payload) SELECT 'orders', 'k-parked', '{}'::jsonb FROM generate_series(1, 2)`
        yield* sql`INSERT INTO ${outbox} (topic, payload, available_at)
          SELECT 'later', '{}'::jsonb, now() + interval '1 hour' FROM generate_series(1, 3)`
        yield* sql`INSERT INTO ${outbox} (topic, payload, available_at, attempts, last_error)
          SELECT 'later', '{}'::jsonb, now() + interval '1 hour', 2, 'HTTP 503' FROM generate_series(1, 2)`
        yield* sql`INSERT INTO ${outbox} (topic, payload, available_at, attempts, locked_by, locked_until)
          SELECT 'slow', '{}'::jsonb, now() + interval '1 hour', 1, 'another-relay', now() + interval '1 hour' FROM generate_series(1, 4)`
      }))))

    const page = await signIn(adminToken)
    const expected = { pending: "7", "due-now": "2", "in-flight": "4", retrying: "2", dead: "1", parked: "1" }
    await eventually(async () => {
      const shown = Object.fromEntries(
        await Promise.all(Object.keys(expected).map(async (id) => [id, await text(page, `${id}-value`)] as const))
      )
      expect(shown).toEqual(expected)
    })
    // The token stays in the tab: not in the URL, not in a cookie.
    expect(page.url()).not.toContain(adminToken)
    expect(await browser.context.cookies()).toEqual([])
    // Readiness and its reason, and this runner's relay from its heartbeat.
    expect(await text(page, "ready")).toBe("Ready")
    await eventually(async () => expect(await text(page, "relays")).toContain(`${process.pid}`))
    await page.close()
  }, 120_000)

  it("replays a dead letter from the page, and the relay delivers it", async () => {
    const id = await deadLetter({ topic: "replay.me", payload: { order: 42 }, error: "HTTP 500 from the receiver" })
    const page = await signIn(adminToken)
    await filterDeadLetters(page, { topic: "replay.me" })
    await page.getByRole("button", { name: id, exact: true }).click()
    expect(await text(page, "detail-payload")).toBe(JSON.stringify({ order: 42 }, null, 2))
    await page.getByTestId("replay-one").click()
    expect(await text(page, "confirm-body")).toContain("1 dead letter match")
    await page.getByTestId("confirm-ok").click()

    await eventually(async () => {
      const attempts = await run(RecordingSender.attempts)
      expect(attempts.filter((attempt) => attempt.message.id === id && attempt.outcome === "sent")).toHaveLength(1)
    })
    expect(await letterIds("replay.me")).toEqual([])
    await page.close()
  }, 120_000)

  it("purges what a filter matches, after showing the dry run's count, and nothing else", async () => {
    const declined = [
      await deadLetter({ topic: "billing", payload: { n: 1 }, error: "402: card DECLINED by issuer" }),
      await deadLetter({ topic: "billing", payload: { n: 2 }, error: "402: card declined" })
    ]
    const timeout = await deadLetter({ topic: "billing", payload: { n: 3 }, error: "timed out after 10 s" })
    const otherTopic = await deadLetter({ topic: "shipping", payload: { n: 4 }, error: "card declined" })
    expect(declined).toHaveLength(2)

    const page = await signIn(adminToken)
    await filterDeadLetters(page, { topic: "billing", error: "declined" })
    await eventually(async () => expect(await page.getByTestId("dead-letters").locator("tbody tr").count()).toBe(2))
    await page.getByTestId("purge-matching").click()
    expect(await text(page, "confirm-body")).toContain("2 dead letters match the filter topic=billing, error=declined")
    await page.getByTestId("confirm-ok").click()

    await eventually(async () => expect(await letterIds("billing")).toEqual([timeout]))
    expect(await letterIds("shipping")).toEqual([otherTopic])
    await page.close()
  }, 120_000)

  it("renders a <script> payload and error as text", async () => {
    const id = await deadLetter({
      topic: "xss",
      payload: { html: "<script>window.__pwned = 1</script>" },
      error: "<img src=x onerror=\"window.__pwned = 2\">"
    })
    const page = await signIn(adminToken)
    await filterDeadLetters(page, { topic: "xss" })
    await eventually(async () => expect(await text(page, "dead-letters")).toContain("<img src=x onerror="))
    await page.getByRole("button", { name: id, exact: true }).click()
    expect(await text(page, "detail-payload")).toContain("<script>window.__pwned = 1</script>")
    expect(await text(page, "detail-error")).toBe("<img src=x onerror=\"window.__pwned = 2\">")
    expect(await page.locator("main script, main img").count()).toBe(0)
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined()
    await page.close()
  }, 120_000)

  it("loads nothing without a token, nor with a wrong one", async () => {
    const page = await browser.context.newPage()
    const adminCalls: Array<{ url: string; status: number }> = []
    page.on("response", (response) => {
      if (new URL(response.url()).pathname.startsWith("/admin/")) adminCalls.push({ url: response.url(), status: response.status() })
    })
    await page.goto(`${url}/`)
    await page.getByTestId("token-form").waitFor()
    expect(adminCalls).toEqual([])
    expect(await page.getByTestId("pending-value").count()).toBe(0)

    await page.getByTestId("token").fill("not-the-token-at-all")
    await page.getByTestId("token-submit").click()
    await eventually(async () => expect(await text(page, "token-error")).toBe("That token was refused."))
    expect(adminCalls.map((call) => call.status)).toEqual([401])
    expect(await page.getByTestId("pending-value").count()).toBe(0)
    // The API itself refuses a call without the token.
    expect(await page.evaluate(async () => (await fetch("/admin/dead-letters/search")).status)).toBe(401)
    await page.close()
  }, 120_000)

  it("lets a read-only token look but not replay", async () => {
    const id = await deadLetter({ topic: "read.only", payload: { n: 1 }, error: "HTTP 500" })
    const page = await signIn(readToken)
    await filterDeadLetters(page, { topic: "read.only" })
    await page.getByRole("button", { name: id, exact: true }).click()
    await page.getByTestId("replay-one").click()
    await eventually(async () => expect(await page.locator(".notice.error").textContent()).toContain("this token is read-only"))
    expect(await page.getByTestId("confirm").count()).toBe(0)
    expect(await letterIds("read.only")).toEqual([id])
    await page.close()
  }, 120_000)
})

/** Screenshots land here (git-ignored): the test artifact CI keeps. */
const artifacts = fileURLToPath(new URL("../test-artifacts/", import.meta.url))

describe("dashboard under the demo's traffic", () => {
  it("shows the demo live: the chart fills, dead letters appear (screenshots kept as artifacts)", async () => {
    mkdirSync(artifacts, { recursive: true })
    const token = "demo-dashboard-token-0123456789"
    const released = Effect.runSync(Deferred.make<void>())
    const lines: Array<string> = []
    const demo = Effect.runFork(OrdersDemo.run({
      messages: 400,
      rate: 40,
      rejectRate: 0.05,
      dashboard: { port: 0, adminToken: Redacted.make(token) },
      hold: Deferred.await(released),
      output: (line) => Effect.sync(() => lines.push(line))
    }))
    const dashboardUrl = await eventually(async () => {
      const found = lines.map((line) => /^Dashboard: (http:\S+)\/ /.exec(line)?.[1]).find((match) => match !== undefined)
      if (found === undefined) throw new Error(`the demo printed no dashboard URL yet: ${lines.join(" | ")}`)
      return found
    }, 90)

    const page = await browser.context.newPage()
    await page.goto(`${dashboardUrl}/`)
    await page.getByTestId("token").fill(token)
    await page.getByTestId("token-submit").click()
    // Live: the overview refreshes by itself until the relay has delivered and dead-lettered some.
    await eventually(async () => {
      expect(Number((await text(page, "dead-value")).replace(/,/g, ""))).toBeGreaterThan(0)
      expect(await text(page, "relays")).toContain("running")
    }, 90)
    await eventually(async () => expect(await page.locator(".chart canvas").count()).toBe(1))
    // The chart has drawn the traffic: ten seconds of points, some with deliveries.
    await eventually(async () => {
      const series = await (await fetch(`${dashboardUrl}/admin/series`, { headers: { authorization: `Bearer ${token}` } })).json() as {
        points: ReadonlyArray<{ delivered: number }>
      }
      expect(series.points.length).toBeGreaterThanOrEqual(10)
      expect(series.points.some((point) => point.delivered > 0)).toBe(true)
    }, 60)
    await page.getByTestId("tab-dead-letters").click()
    await page.getByTestId("tab-overview").click()
    await eventually(async () => expect(await page.locator(".chart canvas").count()).toBe(1))
    await page.screenshot({ path: `${artifacts}dashboard-overview.png`, fullPage: true })

    await page.getByTestId("tab-dead-letters").click()
    await eventually(async () => expect(await page.getByTestId("dead-letters").locator("tbody tr").count()).toBeGreaterThan(0))
    await page.getByTestId("dead-letters").locator("tbody tr button.link").first().click()
    await page.getByTestId("detail").waitFor()
    await page.screenshot({ path: `${artifacts}dashboard-dead-letters.png`, fullPage: true })
    await page.close()

    Effect.runSync(Deferred.succeed(released, undefined))
    const summary = await Effect.runPromise(Fiber.join(demo))
    expect(summary.ok, summary.problems.join("; ")).toBe(true)
  }, 240_000)
})
