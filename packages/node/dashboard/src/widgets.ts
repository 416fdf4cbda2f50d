// Pieces every view uses: the message detail panel, the confirm dialog, the
// notice line, and keyset paging.
import { ApiError } from "./api.js"
import { h, replace, when } from "./dom.js"
import type { MessageDetail } from "./types.js"

/** The notice line under the header: what just happened, or what went wrong. */
const notice = h("div", { class: "notice", role: "status", "aria-live": "polite" })
export const noticeElement = notice

export const say = (text: string, kind: "info" | "error" = "info") => {
  notice.className = `notice ${kind}`
  notice.textContent = text
}

export const explain = (error: unknown): string =>
  error instanceof ApiError
    ? error.status === 403
      ? `Refused: ${error.message}`
      : error.message
    : error instanceof Error
    ? error.message
    : String(error)

/** Asks before acting: resolves true on Confirm, false on Cancel. */
export const confirmDialog = (title: string, body: string, action: string): Promise<boolean> =>
  new Promise((resolve) => {
    const close = (answer: boolean) => {
      dialog.close()
      dialog.remove()
      resolve(answer)
    }
    const dialog = h(
      "dialog",
      { class: "confirm", "data-testid": "confirm" },
      h("h3", {}, title),
      h("p", { "data-testid": "confirm-body" }, body),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: () => close(false) }, "Cancel"),
        h("button", { type: "button", class: "danger", "data-testid": "confirm-ok", onclick: () => close(true) }, action)
      )
    )
    dialog.addEventListener("cancel", () => resolve(false))
    document.body.appendChild(dialog)
    dialog.showModal()
  })

const traceIdOf = (headers: Readonly<Record<string, string>>): string | null => {
  const parent = headers["traceparent"]
  const parts = parent?.split("-")
  return parts !== undefined && parts.length === 4 ? (parts[1] ?? null) : null
}

/** A message in full. The payload is pretty-printed JSON, shown as text. */
export const detailPanel = (message: MessageDetail, actions: ReadonlyArray<HTMLElement>) => {
  const traceId = traceIdOf(message.headers)
  const fields: Array<[string, string]> = [
    ["Id", message.id],
    ["Topic", message.topic],
    ["Key", message.key ?? "—"],
    ["Attempts", String(message.attempts)],
    ["Created", when(message.createdAt)],
    ...(message.deadAt === undefined ? [["Due at", when(message.availableAt)] as [string, string]] : []),
    ...(message.reason === undefined ? [] : [["Reason", message.reason] as [string, string]]),
    ...(message.deadAt === undefined ? [] : [["Dead since", when(message.deadAt)] as [string, string]]),
    ...(message.parksKey === true ? [["Parks its key", "yes: the key's later messages wait for it"] as [string, string]] : []),
    ["Trace id", traceId ?? "—"]
  ]
  return h(
    "section",
    { class: "detail", "data-testid": "detail" },
    h("div", { class: "detail-head" }, h("h3", {}, `Message ${message.id}`), h("div", { class: "actions" }, actions)),
    h("dl", {}, fields.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
    h("h4", {}, "Last error"),
    h("pre", { class: "error-text", "data-testid": "detail-error" }, message.lastError ?? "—"),
    h("h4", {}, "Payload"),
    h("pre", { class: "payload", "data-testid": "detail-payload" }, JSON.stringify(message.payload, null, 2)),
    h("h4", {}, "Headers"),
    h(
      "table",
      { class: "headers" },
      h("tbody", {}, Object.entries(message.headers).map(([name, value]) => h("tr", {}, h("th", {}, name), h("td", {}, value))))
    )
  )
}

/** Keyset paging: remembers the `after` of each page seen, so Previous goes back. */
export class Pager {
  private readonly stack: Array<string | undefined> = [undefined]
  next: string | null = null

  get after(): string | undefined {
    return this.stack[this.stack.length - 1]
  }

  get pageNumber(): number {
    return this.stack.length
  }

  reset() {
    this.stack.splice(1)
  }

  forward() {
    if (this.next !== null) this.stack.push(this.next)
  }

  back() {
    if (this.stack.length > 1) this.stack.pop()
  }

  controls(reload: () => void): HTMLElement {
    return h(
      "div",
      { class: "pager" },
      h("button", {
        type: "button",
        disabled: this.pageNumber === 1,
        onclick: () => {
          this.back()
          reload()
        }
      }, "← Previous"),
      h("span", {}, `Page ${this.pageNumber}`),
      h("button", {
        type: "button",
        "data-testid": "next-page",
        disabled: this.next === null,
        onclick: () => {
          this.forward()
          reload()
        }
      }, "Next →")
    )
  }
}

/** A labelled input of a filter form. */
export const field = (label: string, input: HTMLElement) => h("label", { class: "field" }, h("span", {}, label), input)

export const show = (target: Element, ...content: Array<Node>) => replace(target, ...content)
