// Messages waiting in the outbox: a keyset-paged list without payloads; a
// message's payload is fetched only when asked for.
import { call } from "./api.js"
import { ago, form, h, replace, showTable, when } from "./dom.js"
import type { MessageDetail, Page, WaitingMessage } from "./types.js"
import { detailPanel, explain, field, Pager, say } from "./widgets.js"

const stateNames: Record<WaitingMessage["state"], string> = {
  due: "due now",
  inFlight: "in flight",
  retrying: "waiting for retry",
  delayed: "delayed"
}

export const makeWaiting = () => {
  const topic = h("input", { name: "topic", placeholder: "order.placed", autocomplete: "off" })
  const key = h("input", { name: "key", placeholder: "customer-1", autocomplete: "off" })
  const state = h(
    "select",
    { name: "state" },
    h("option", { value: "" }, "any"),
    Object.entries(stateNames).map(([value, name]) => h("option", { value }, name))
  )
  const pager = new Pager()
  const table = h("div", { class: "table-box", "data-testid": "waiting" })
  const detail = h("div", {})

  const open = async (id: string) => {
    try {
      replace(detail, detailPanel(await call<MessageDetail>(`/admin/messages/${encodeURIComponent(id)}`), []))
    } catch (failure) {
      say(explain(failure), "error")
    }
  }

  const load = async () => {
    try {
      const page = await call<Page<WaitingMessage>>("/admin/messages", {
        topic: topic.value.trim(),
        key: key.value.trim(),
        state: state.value,
        after: pager.after,
        limit: 50
      })
      pager.next = page.next
      showTable(table, {
        headings: ["Id", "Topic", "Key", "State", "Attempts", "Created", "Due at", "Last error", ""],
        rows: page.items.map((message) =>
          h(
            "tr",
            {},
            h("td", { class: "mono" }, message.id),
            h("td", {}, message.topic),
            h("td", {}, message.key ?? "—"),
            h("td", {}, h("span", { class: `state ${message.state}` }, stateNames[message.state])),
            h("td", {}, String(message.attempts)),
            h("td", { title: message.createdAt }, ago(message.createdAt)),
            h("td", {}, when(message.availableAt)),
            h("td", { class: "error-cell" }, message.lastError ?? ""),
            h("td", {}, h("button", { type: "button", onclick: () => void open(message.id) }, "Payload"))
          )
        ),
        whenEmpty: "Nothing is waiting."
      }, pager.controls(() => void load()))
    } catch (failure) {
      say(explain(failure), "error")
    }
  }

  const filters = form(
    { class: "filters" },
    () => {
      pager.reset()
      void load()
    },
    field("Topic", topic),
    field("Key", key),
    field("State", state),
    h("button", { type: "submit" }, "Apply")
  )
  const element = h("div", { class: "view" }, h("section", { class: "panel" }, h("h2", {}, "Messages waiting"), filters, table), detail)
  return { element, refresh: load }
}
