// Parked keys (ordered delivery): each key waits behind a dead letter;
// replaying the letter resumes the key from it, purging it from the next message.
import { call } from "./api.js"
import { ago, h, showTable } from "./dom.js"
import type { ParkedKey } from "./types.js"
import { confirmDialog, explain, say } from "./widgets.js"

export const makeParkedKeys = (onChange: () => void) => {
  const table = h("div", { class: "table-box", "data-testid": "parked-keys" })

  const act = async (action: "replay" | "purge", parked: ParkedKey) => {
    const ok = await confirmDialog(
      `${action === "replay" ? "Replay" : "Purge"} the letter parking ${parked.key}?`,
      action === "replay"
        ? `Dead letter ${parked.messageId} goes back to the outbox and is delivered first; then the rest of key ${parked.key} follows.`
        : `Dead letter ${parked.messageId} is deleted for good; key ${parked.key} moves on to its next message.`,
      action === "replay" ? "Replay" : "Purge"
    )
    if (!ok) return
    try {
      const result = await call<Record<string, number>>(`/admin/dead-letters/${action}`, { ids: parked.messageId }, "POST")
      say(`Key ${parked.key}: ${result[action === "replay" ? "replayed" : "purged"] ?? 0} letter ${action === "replay" ? "replayed" : "purged"}.`)
      await load()
      onChange()
    } catch (failure) {
      say(explain(failure), "error")
    }
  }

  const load = async () => {
    try {
      const { parkedKeys } = await call<{ parkedKeys: ReadonlyArray<ParkedKey> }>("/admin/parked-keys", { limit: 500 })
      showTable(table, {
        headings: ["Key", "Topic", "Letter", "Reason", "Since", "Last error", ""],
        rows: parkedKeys.map((parked) =>
          h(
            "tr",
            {},
            h("td", { class: "mono" }, parked.key),
            h("td", {}, parked.topic),
            h("td", { class: "mono" }, parked.messageId),
            h("td", {}, parked.reason),
            h("td", { title: parked.since }, ago(parked.since)),
            h("td", { class: "error-cell" }, parked.lastError),
            h(
              "td",
              { class: "actions" },
              h("button", { type: "button", onclick: () => void act("replay", parked) }, "Replay"),
              h("button", { type: "button", class: "danger", onclick: () => void act("purge", parked) }, "Purge")
            )
          )
        ),
        whenEmpty: "No key is parked."
      })
    } catch (failure) {
      say(explain(failure), "error")
    }
  }

  const element = h(
    "div",
    { class: "view" },
    h(
      "section",
      { class: "panel" },
      h("h2", {}, "Parked keys"),
      h("p", { class: "hint" }, "With ordered delivery, a dead-lettered message parks its key: the key's later messages wait until the letter is replayed or purged (oldest first, up to 500)."),
      table
    )
  )
  return { element, refresh: load }
}
