// The dashboard page: asks for the admin token, then shows the overview (live,
// every 2 s while the tab is visible), dead letters, parked keys and waiting
// messages. It talks only to the admin API of the runner that served it.
import "./style.css"
import { ApiError, call, hasToken, setToken, whenUnauthorized } from "./api.js"
import { makeDeadLetters } from "./deadLetters.js"
import { form, h, replace } from "./dom.js"
import { makeOverview } from "./overview.js"
import { makeParkedKeys } from "./parkedKeys.js"
import { makeWaiting } from "./waiting.js"
import { noticeElement, say } from "./widgets.js"

const root = document.getElementById("app") ?? document.body
const refreshEveryMillis = 2000
/** Whether the dashboard is open (signed in), as opposed to the sign-in form. */
let started = false

const gate = (problem?: string) => {
  const input = h("input", { type: "password", name: "token", autocomplete: "off", placeholder: "OUTBOX_ADMIN_TOKEN", "data-testid": "token" })
  const error = h("p", { class: "error", "data-testid": "token-error" }, problem ?? "")
  const signIn = form(
    { class: "gate", "data-testid": "token-form" },
    () => {
      const value = input.value.trim()
      if (value === "") return
      setToken(value)
      call("/admin/overview").then(
        () => start(),
        (failure: unknown) => {
          setToken(null)
          error.textContent = failure instanceof ApiError && failure.status === 401
            ? "That token was refused."
            : failure instanceof Error
            ? failure.message
            : String(failure)
        }
      )
    },
    h("h1", {}, "Outbox dashboard"),
    h("p", {}, "Enter the runner's admin token (OUTBOX_ADMIN_TOKEN), or its read-only token. It is kept in this tab only, and sent to this runner only."),
    input,
    h("button", { type: "submit", "data-testid": "token-submit" }, "Open"),
    error
  )
  replace(root, signIn)
  input.focus()
}

const start = () => {
  started = true
  let timer: number | undefined
  const overview = makeOverview()
  const refreshOverview = () => void overview.refresh()
  const views = {
    overview: { name: "Overview", ...overview },
    "dead-letters": { name: "Dead letters", ...makeDeadLetters(refreshOverview) },
    "parked-keys": { name: "Parked keys", ...makeParkedKeys(refreshOverview) },
    waiting: { name: "Waiting", ...makeWaiting() }
  }
  type ViewName = keyof typeof views
  const isView = (name: string): name is ViewName => name in views
  const main = h("main", {})
  const tabs = h("nav", { class: "tabs" })

  const schedule = () => {
    window.clearTimeout(timer)
    // Live while visible; a hidden tab polls nothing.
    if (current === "overview" && !document.hidden) {
      timer = window.setTimeout(() => {
        void overview.refresh().finally(schedule)
      }, refreshEveryMillis)
    }
  }

  let current: ViewName = "overview"
  const select = (name: ViewName) => {
    current = name
    for (const tab of tabs.querySelectorAll("a")) tab.classList.toggle("active", tab.dataset["view"] === name)
    replace(main, views[name].element)
    void views[name].refresh()
    schedule()
  }

  for (const [name, view] of Object.entries(views)) {
    tabs.appendChild(h("a", {
      href: `#${name}`,
      "data-view": name,
      "data-testid": `tab-${name}`,
      onclick: (event: Event) => {
        event.preventDefault()
        history.replaceState(null, "", `#${name}`)
        if (isView(name)) select(name)
      }
    }, view.name))
  }

  const header = h(
    "header",
    {},
    h("div", { class: "brand" }, "effect-outbox"),
    tabs,
    h(
      "div",
      { class: "links" },
      h("a", { href: "/metrics", target: "_blank", rel: "noopener" }, "Metrics"),
      h("a", { href: "/dashboard/docs", target: "_blank", rel: "noopener" }, "Docs"),
      h("button", {
        type: "button",
        class: "quiet",
        onclick: () => {
          window.clearTimeout(timer)
          setToken(null)
          started = false
          gate()
        }
      }, "Forget token")
    )
  )
  replace(root, header, noticeElement, main)
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && current === "overview") void overview.refresh()
    schedule()
  })
  const wanted = location.hash.slice(1)
  select(isView(wanted) ? wanted : "overview")
  say("")
}

// A refused token while the dashboard is open (changed on the runner, say): ask again.
// Before that, the sign-in form says so itself.
whenUnauthorized(() => {
  if (started) gate("The token was refused; enter it again.")
})
if (hasToken()) start()
else gate()
