// The admin API, as the page calls it. The token lives in this tab only
// (sessionStorage): never in a URL, never in a cookie, so another site cannot
// make the browser send it (no CSRF), and closing the tab forgets it.

const storageKey = "outbox-admin-token"

let token: string | null = sessionStorage.getItem(storageKey)

/** A refused or failed call: `status` is the HTTP status (0: unreachable), `message` the API's own words. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

export const hasToken = () => token !== null

export const setToken = (value: string | null) => {
  token = value
  if (value === null) sessionStorage.removeItem(storageKey)
  else sessionStorage.setItem(storageKey, value)
}

/** Called when the API refuses the token (401): the page asks for it again. */
let onUnauthorized: () => void = () => {}
export const whenUnauthorized = (handler: () => void) => {
  onUnauthorized = handler
}

export type Query = Record<string, string | number | boolean | undefined | null>

const search = (query: Query) => {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value))
  }
  const text = params.toString()
  return text === "" ? "" : `?${text}`
}

/** Calls the admin API with the token; resolves with the JSON body, or rejects with an `ApiError`. */
export const call = async <A>(path: string, query: Query = {}, method: "GET" | "POST" = "GET"): Promise<A> => {
  if (token === null) throw new ApiError(401, "no token")
  let response: Response
  try {
    response = await fetch(`${path}${search(query)}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      cache: "no-store",
      credentials: "omit"
    })
  } catch {
    throw new ApiError(0, "the runner did not answer")
  }
  const body: unknown = await response.json().catch(() => null)
  if (!response.ok) {
    const message = typeof body === "object" && body !== null && "error" in body ? String(body.error) : response.statusText
    if (response.status === 401) {
      setToken(null)
      onUnauthorized()
    }
    throw new ApiError(response.status, message)
  }
  return body as A // the admin API's documented shapes (see the types in ./types.ts)
}
