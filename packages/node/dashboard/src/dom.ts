// Building the page's DOM. Every string becomes a text node or an attribute
// value: nothing from the API is ever parsed as HTML (no innerHTML anywhere),
// so a payload or an error holding `<script>` shows as text.

type Child = Node | string | number | null | undefined | false
type Attributes = Record<string, string | boolean | undefined | EventListener>

/** Makes an element: `on…` attributes are listeners, booleans toggle, strings are set as given. */
export const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: ReadonlyArray<Child | ReadonlyArray<Child>>
): HTMLElementTagNameMap[K] => {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    if (typeof value === "function") element.addEventListener(name.slice(2).toLowerCase(), value)
    else element.setAttribute(name, value === true ? "" : value)
  }
  append(element, children)
  return element
}

const append = (parent: Node, children: ReadonlyArray<Child | ReadonlyArray<Child>>) => {
  for (const child of children) {
    if (Array.isArray(child)) append(parent, child)
    else if (child instanceof Node) parent.appendChild(child)
    else if (child !== null && child !== undefined && child !== false) {
      parent.appendChild(document.createTextNode(String(child)))
    }
  }
}

/**
 * Shows a list in `target`: a table with a header row of `headings` over
 * `rows`, or the line `whenEmpty` when there are no rows; `after` follows
 * either (the pager).
 */
export const showTable = (
  target: Element,
  list: { readonly headings: ReadonlyArray<string>; readonly rows: ReadonlyArray<HTMLTableRowElement>; readonly whenEmpty: string },
  ...after: ReadonlyArray<Node>
) =>
  replace(
    target,
    list.rows.length === 0
      ? h("p", { class: "empty" }, list.whenEmpty)
      : h("table", {}, h("thead", {}, h("tr", {}, list.headings.map((name) => h("th", {}, name)))), h("tbody", {}, list.rows)),
    after
  )

/** A form that stays on the page: submitting it calls `onSubmit` instead of loading another page. */
export const form = (attributes: Attributes, onSubmit: () => void, ...children: ReadonlyArray<Child | ReadonlyArray<Child>>) =>
  h("form", {
    ...attributes,
    onsubmit: (event: Event) => {
      event.preventDefault()
      onSubmit()
    }
  }, ...children)

/** Replaces an element's children. */
export const replace = (parent: Element, ...children: ReadonlyArray<Child | ReadonlyArray<Child>>) => {
  parent.replaceChildren()
  append(parent, children)
}

/** `12 s`, `4 min`, `3 h`, `2 d`. */
export const age = (millis: number | null): string => {
  if (millis === null) return "—"
  const seconds = Math.round(millis / 1000)
  if (seconds < 90) return `${seconds} s`
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`
  return `${Math.round(seconds / 86_400)} d`
}

/** How long ago an ISO time was. */
export const ago = (iso: string | null): string => (iso === null ? "—" : `${age(Date.now() - Date.parse(iso))} ago`)

/** A local date and time, to the second. */
export const when = (iso: string | null): string =>
  iso === null ? "—" : new Date(iso).toLocaleString(undefined, { hour12: false })

export const number = (n: number) => n.toLocaleString("en-US")
