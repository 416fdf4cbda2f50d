// Builds the dashboard page into the package (`dist/dashboard`): one HTML
// file and hashed assets served by the runner under /dashboard/assets. No
// CDN, no runtime download: the page works offline.
import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/dashboard/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    // The page only ever talks to the runner that served it.
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022"
  }
})
