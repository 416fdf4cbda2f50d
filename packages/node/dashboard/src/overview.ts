// The live overview: counts, readiness, the 15-minute chart and the relays.
import uPlot from "uplot"
import "uplot/dist/uPlot.min.css"
import { call } from "./api.js"
import { age, ago, h, number, replace, showTable } from "./dom.js"
import type { Count, OverviewResponse, Relay, SeriesResponse } from "./types.js"
import { explain, say } from "./widgets.js"

const formatCount = (count: Count): string =>
  count.kind === "exact" ? number(count.value) : count.kind === "atLeast" ? `${number(count.value)}+` : `≈ ${number(count.value)}`

const countNote = (count: Count): string | undefined =>
  count.kind === "atLeast"
    ? "counting stopped here, to keep the page fast"
    : count.kind === "estimate"
    ? "the planner's estimate: too many to count every second"
    : undefined

const card = (name: string, testId: string, value: string, note?: string, tone = "") =>
  h(
    "div",
    { class: `card ${tone}`, "data-testid": testId, title: note },
    h("div", { class: "card-name" }, name),
    h("div", { class: "card-value", "data-testid": `${testId}-value` }, value),
    note === undefined ? null : h("div", { class: "card-note" }, note)
  )

export const makeOverview = () => {
  const cards = h("div", { class: "cards" })
  const readiness = h("div", { class: "readiness", "data-testid": "readiness" })
  const topicSelect = h("select", { "aria-label": "Topic", "data-testid": "series-topic" }, h("option", { value: "" }, "All topics"))
  const chartBox = h("div", { class: "chart" })
  const relays = h("div", { "data-testid": "relays" })
  const element = h(
    "div",
    { class: "view" },
    readiness,
    cards,
    h(
      "section",
      { class: "panel" },
      h("div", { class: "panel-head" }, h("h2", {}, "Last 15 minutes"), topicSelect),
      chartBox
    ),
    h("section", { class: "panel" }, h("h2", {}, "Relays"), relays)
  )

  let chart: uPlot | null = null
  const makeChart = () => {
    const width = Math.max(320, chartBox.clientWidth || 900)
    return new uPlot({
      width,
      height: 260,
      scales: { x: { time: true }, rate: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] }, lag: { auto: true } },
      axes: [
        {},
        { scale: "rate", label: "messages / s", size: 60 },
        { scale: "lag", side: 1, label: "lag (s)", grid: { show: false }, size: 60 }
      ],
      series: [
        {},
        { label: "delivered/s", scale: "rate", stroke: "#2f9e44", width: 2 },
        { label: "failed/s", scale: "rate", stroke: "#e8590c", width: 2 },
        { label: "dead-lettered/s", scale: "rate", stroke: "#c92a2a", width: 2 },
        { label: "lag (oldest pending, s)", scale: "lag", stroke: "#1971c2", width: 1, dash: [4, 4] }
      ]
    }, [[], [], [], [], []], chartBox)
  }

  const renderSeries = (series: SeriesResponse) => {
    const known = new Set([...topicSelect.options].map((option) => option.value))
    for (const topic of series.topics) {
      if (!known.has(topic)) topicSelect.appendChild(h("option", { value: topic }, topic))
    }
    if (chart === null) chart = makeChart()
    const points = series.points
    chart.setData([
      points.map((point) => point.at / 1000),
      points.map((point) => point.delivered),
      points.map((point) => point.failed),
      points.map((point) => point.deadLettered),
      points.map((point) => (point.lagMillis === null ? null : point.lagMillis / 1000))
    ])
  }

  const renderRelays = (list: ReadonlyArray<Relay>) => {
    showTable(relays, {
      headings: ["Relay", "Host", "PID", "State", "Claim", "Batch", "Concurrency", "Ordered", "Last batch", "Sent", "Retried", "Dead", "Last seen"],
      rows: list.map((relay) =>
        h(
          "tr",
          { class: relay.lastSeenSecondsAgo > 20 ? "stale" : "" },
          h("td", { class: "mono" }, relay.relayId),
          h("td", {}, relay.host),
          h("td", {}, String(relay.pid)),
          h("td", {}, relay.state),
          h("td", {}, relay.claimMode),
          h("td", {}, String(relay.batchSize)),
          h("td", {}, String(relay.concurrency)),
          h("td", {}, relay.ordered),
          h("td", {}, ago(relay.lastBatchAt)),
          h("td", {}, number(relay.sent)),
          h("td", {}, number(relay.retried)),
          h("td", {}, number(relay.deadLettered)),
          h("td", {}, `${relay.lastSeenSecondsAgo} s ago`)
        )
      ),
      whenEmpty: "No relay has announced itself on this outbox in the last minute."
    })
  }

  const render = (data: OverviewResponse) => {
    const o = data.overview
    replace(
      readiness,
      h("span", { class: `badge ${data.readiness.ready ? "ok" : "bad"}`, "data-testid": "ready" }, data.readiness.ready ? "Ready" : "Not ready"),
      h("span", { class: "reason" }, data.readiness.reason)
    )
    replace(
      cards,
      card("Pending", "pending", formatCount(o.pending), countNote(o.pending)),
      card("Due now", "due-now", formatCount(o.dueNow), countNote(o.dueNow)),
      card("In flight", "in-flight", formatCount(o.inFlight), countNote(o.inFlight)),
      card("Waiting for retry", "retrying", formatCount(o.waitingForRetry), countNote(o.waitingForRetry)),
      card("Dead letters", "dead", formatCount(o.dead), countNote(o.dead), o.dead.value > 0 ? "warn" : ""),
      card("Parked keys", "parked", formatCount(o.parkedKeys), countNote(o.parkedKeys), o.parkedKeys.value > 0 ? "warn" : ""),
      card("Oldest pending", "oldest", age(o.oldestPendingAgeMillis))
    )
  }

  const refresh = async () => {
    try {
      const topic = topicSelect.value
      const [overview, series, relayList] = await Promise.all([
        call<OverviewResponse>("/admin/overview"),
        call<SeriesResponse>("/admin/series", { topic }),
        call<{ relays: ReadonlyArray<Relay> }>("/admin/relays")
      ])
      render(overview)
      renderSeries(series)
      renderRelays(relayList.relays)
    } catch (error) {
      say(explain(error), "error")
    }
  }
  topicSelect.addEventListener("change", () => void refresh())

  return { element, refresh }
}
