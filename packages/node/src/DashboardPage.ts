/**
 * Serves the dashboard page: `GET /` and `GET /dashboard` answer its HTML,
 * `GET /dashboard/assets/<file>` its scripts and styles, `GET /dashboard/docs`
 * the HTTP API's documentation as text. The files are built
 * by Vite into the package (`dist/dashboard`) at build time: nothing is
 * loaded from elsewhere, so it works offline.
 *
 * The page holds no data and no secret: it asks for the admin token and calls
 * the admin API with it (see `DashboardApi`). Its Content-Security-Policy
 * allows only this origin's scripts, styles and requests, and no framing.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"

/**
 * Where the built page may be, relative to this code: beside the compiled
 * module (`dist`), in `dist` when running from `src`, or above the bundled
 * executable (`dist/bundle/bin.js`, or one of its chunks in `dist/bundle/chunks`).
 */
const candidates = ["./dashboard/", "../dist/dashboard/", "../dashboard/", "../../dashboard/"].map((path) =>
  new URL(path, import.meta.url)
)

/** Where the package's `docs` folder may be, from the same places. */
const docsCandidates = ["../docs/", "../../docs/", "../../../docs/"].map((path) => new URL(path, import.meta.url))

const contentTypes: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon"
}

/**
 * The page's security headers. `style-src` allows inline styles: the chart library sizes its canvas with them.
 *
 * @category http
 * @since 0.1.0
 */
export const securityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}

const read = (relative: string, bases: ReadonlyArray<URL> = candidates) =>
  Effect.gen(function*() {
    for (const base of bases) {
      const bytes = yield* Effect.promise(() =>
        readFile(fileURLToPath(new URL(relative, base))).then(
          (content) => content,
          () => undefined // not in this candidate: try the next
        )
      )
      if (bytes !== undefined) return bytes
    }
    return undefined
  })

const serve = (relative: string, cache: string) =>
  Effect.map(read(relative), (bytes) => {
    if (bytes === undefined) {
      return HttpServerResponse.text(
        relative === "index.html" ? "The dashboard was not built: run `npm run build` in the repository." : "not found",
        { status: 404 }
      )
    }
    const extension = relative.slice(relative.lastIndexOf(".") + 1)
    return HttpServerResponse.uint8Array(new Uint8Array(bytes), {
      contentType: contentTypes[extension] ?? "application/octet-stream",
      headers: { ...securityHeaders, "cache-control": cache }
    })
  })

const page = serve("index.html", "no-store")

/** The HTTP API's documentation, shipped with the package (`docs/http.md`), as plain text. */
const docs = Effect.map(
  read("http.md", docsCandidates),
  (bytes) => {
    const text = bytes === undefined ? undefined : new TextDecoder().decode(bytes)
    return HttpServerResponse.text(text ?? "The documentation is not installed with this package.", {
      status: text === undefined ? 404 : 200,
      contentType: "text/plain; charset=utf-8",
      headers: securityHeaders
    })
  }
)

/**
 * The page's routes.
 *
 * @category http
 * @since 0.1.0
 */
export const router: HttpRouter.HttpRouter = HttpRouter.empty.pipe(
  HttpRouter.get("/", page),
  HttpRouter.get("/dashboard", page),
  HttpRouter.get("/dashboard/docs", docs),
  HttpRouter.get(
    "/dashboard/assets/:file",
    Effect.flatMap(HttpRouter.params, (params) => {
      const file = params["file"] ?? ""
      // Built file names only: no path separators, no dot-dot.
      return /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(file)
        ? serve(`assets/${file}`, "public, max-age=31536000, immutable")
        : Effect.succeed(HttpServerResponse.text("not found", { status: 404 }))
    })
  )
)
