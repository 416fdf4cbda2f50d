// Drives Debian's Chromium with Playwright for the dashboard's browser tests.
// A missing browser fails the tests with what to install: it never skips them.
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium } from "playwright-core"

/** Where Debian's `chromium` package puts the browser. */
export const chromiumPath = process.env.OUTBOX_TEST_CHROMIUM ?? "/usr/bin/chromium"

/** Launches headless Chromium with a fresh profile; `close` also deletes the profile. */
export const launch = async (): Promise<{ context: BrowserContext; close: () => Promise<void> }> => {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is not installed at ${chromiumPath}: install it (apt-get install -y chromium) to run the dashboard's browser tests`
    )
  }
  const profile = mkdtempSync(join(tmpdir(), "outbox-dashboard-test-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run"
    ],
    viewport: { width: 1360, height: 900 }
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
