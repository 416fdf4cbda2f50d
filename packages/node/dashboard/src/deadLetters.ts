// Dead letters: filter, page, inspect, and replay or purge one, a selection,
// or everything a filter matches (after a dry run shows how many).
import { call } from "./api.js"
import { ago, form, h, number, replace, showTable } from "./dom.js"
import type { DeadLetterRow, MessageDetail, Page } from "./types.js"
import { confirmDialog, detailPanel, explain, field, Pager, say } from "./widgets.js"

type Action = "replay" | "purge"

const verb = (action: Action) => (action === "replay" ? "Replay" : "Purge")
const done = (action: Action) => (action === "replay" ? "replayed" : "purged")
const consequence = (action: Action) =>
  action === "replay"
    ? "They go back to the outbox with their attempts reset, and are delivered again."
    : "They are deleted for good: this cannot be undone."

export const makeDeadLetters = (onChange: () => void) => {
  const input = (name: string, placeholder: string) =>
    h("input", { name, placeholder, autocomplete: "off", "data-testid": `filter-${name}` })
  const topic = input("topic", "order.placed")
  const key = input("key", "customer-1")
  const error = input("error", "text in the last error")
  const olderThan = input("olderThan", "e.g. 1h")
  const newerThan = input("newerThan", "e.g. 15m")
  const reason = h(
    "select",
    { name: "reason", "data-testid": "filter-reason" },
    h("option", { value: "" }, "any"),
    ["Exhausted", "Rejected", "Undecodable"].map((r) => h("option", { value: r }, r))
  )
  const pager = new Pager()
  const selected = new Set<string>()
  const table = h("div", { class: "table-box", "data-testid": "dead-letters" })
  const detail = h("div", {})
  const selection = h("div", { class: "bulk" })

  const filter = () => ({
    topic: topic.value.trim(),
    reason: reason.value,
    key: key.value.trim(),
    error: error.value.trim(),
    olderThan: olderThan.value.trim(),
    newerThan: newerThan.value.trim()
  })

  const dryRunThenAct = async (action: Action, what: string, query: Record<string, string>, path: string) => {
    try {
      const dry = await call<{ matched: number; upTo?: string | null }>(path, { ...query, dryRun: true }, "POST")
      if (dry.matched === 0) {
        say(`Nothing to ${action}: no dead letter matches ${what}.`)
        return
      }
      const ok = await confirmDialog(
        `${verb(action)} ${number(dry.matched)} dead letter${dry.matched === 1 ? "" : "s"}?`,
        `${number(dry.matched)} dead letter${dry.matched === 1 ? "" : "s"} match ${what}. ${consequence(action)}`,
        `${verb(action)} ${number(dry.matched)}`
      )
      if (!ok) return
      const upTo = dry.upTo === undefined || dry.upTo === null ? {} : { upTo: dry.upTo }
      const result = await call<Record<string, number>>(path, { ...query, ...upTo }, "POST")
      say(`${number(result[done(action)] ?? 0)} dead letter(s) ${done(action)}.`)
      selected.clear()
      replace(detail)
      await load()
      onChange()
    } catch (failure) {
      say(explain(failure), "error")
    }
  }

  const actOnIds = (action: Action, ids: ReadonlyArray<string>) =>
    dryRunThenAct(action, ids.length === 1 ? `id ${ids[0]}` : `the ${ids.length} selected`, { ids: ids.join(",") }, `/admin/dead-letters/${action}`)

  const actOnFilter = (action: Action) => {
    const f = filter()
    const given = Object.entries(f).filter(([, value]) => value !== "")
    const what = given.length === 0 ? "no filter (every dead letter)" : `the filter ${given.map(([name, value]) => `${name}=${value}`).join(", ")}`
    return dryRunThenAct(action, what, given.length === 0 ? { all: "true" } : Object.fromEntries(given), `/admin/dead-letters/search/${action}`)
  }

  const renderSelection = () => {
    const ids = [...selected]
    replace(
      selection,
      h("span", {}, `${ids.length} selected`),
      h("button", { type: "button", disabled: ids.length === 0, "data-testid": "replay-selected", onclick: () => void actOnIds("replay", ids) }, "Replay selected"),
      h("button", { type: "button", class: "danger", disabled: ids.length === 0, "data-testid": "purge-selected", onclick: () => void actOnIds("purge", ids) }, "Purge selected"),
      h("span", { class: "spacer" }),
      h("button", { type: "button", "data-testid": "replay-matching", onclick: () => void actOnFilter("replay") }, "Replay all matching…"),
      h("button", { type: "button", class: "danger", "data-testid": "purge-matching", onclick: () => void actOnFilter("purge") }, "Purge all matching…")
    )
  }

  const open = async (id: string) => {
    try {
      const letter = await call<MessageDetail>(`/admin/dead-letters/${encodeURIComponent(id)}`)
      replace(
        detail,
        detailPanel(letter, [
          h("button", { type: "button", "data-testid": "replay-one", onclick: () => void actOnIds("replay", [id]) }, "Replay"),
          h("button", { type: "button", class: "danger", "data-testid": "purge-one", onclick: () => void actOnIds("purge", [id]) }, "Purge")
        ])
      )
    } catch (failure) {
      say(explain(failure), "error")
    }
  }

  const renderRows = (page: Page<DeadLetterRow>) => {
    pager.next = page.next
    showTable(table, {
      headings: ["", "Id", "Topic", "Key", "Reason", "Attempts", "Died", "Last error"],
      rows: page.items.map((letter) => {
        const box = h("input", { type: "checkbox", "aria-label": `select ${letter.id}`, checked: selected.has(letter.id) })
        box.addEventListener("change", () => {
          if (box.checked) selected.add(letter.id)
          else selected.delete(letter.id)
          renderSelection()
        })
        return h(
          "tr",
          { "data-id": letter.id, class: "clickable" },
          h("td", {}, box),
          h("td", { class: "mono" }, h("button", { type: "button", class: "link", onclick: () => void open(letter.id) }, letter.id)),
          h("td", {}, letter.topic),
          h("td", {}, letter.key ?? "—", letter.parksKey ? h("span", { class: "tag", title: "its key is parked behind it" }, "parks key") : null),
          h("td", {}, letter.reason),
          h("td", {}, String(letter.attempts)),
          h("td", { title: letter.deadAt }, ago(letter.deadAt)),
          h("td", { class: "error-cell" }, letter.lastError)
        )
      }),
      whenEmpty: "No dead letter matches."
    }, pager.controls(() => void load()))
  }

  const load = async () => {
    try {
      renderRows(await call<Page<DeadLetterRow>>("/admin/dead-letters/search", { ...filter(), after: pager.after, limit: 50 }))
      renderSelection()
    } catch (failure) {
      say(explain(failure), "error")
    }
  }

  const filters = form(
    { class: "filters", "data-testid": "dead-letter-filters" },
    () => {
      pager.reset()
      selected.clear()
      void load()
    },
    field("Topic", topic),
    field("Reason", reason),
    field("Key", key),
    field("Error contains", error),
    field("Died over", olderThan),
    field("Died within", newerThan),
    h("button", { type: "submit", "data-testid": "apply-filters" }, "Apply")
  )

  const element = h("div", { class: "view" }, h("section", { class: "panel" }, h("h2", {}, "Dead letters"), filters, selection, table), detail)
  return { element, refresh: load }
}
