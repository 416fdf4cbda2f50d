/**
 * Whether a failure to open Postgres is a setting the server refused (worth
 * no retry: a wrong password, a database that does not exist) rather than a
 * server that is down or starting. Judged by the SQLSTATE Postgres reports.
 */
const refusedSettings: ReadonlySet<string> = new Set([
  "28P01", // invalid_password
  "28000", // invalid_authorization_specification (no such role, pg_hba rejects)
  "3D000", // invalid_catalog_name: the database does not exist
  "42501" // insufficient_privilege (e.g. cannot create the schema)
])

const codeOf = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined
  return typeof error.code === "string" ? error.code : undefined
}

/** Walks the error and its causes; true when one carries a refused-setting SQLSTATE. */
export const isRefusedSetting = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const code = codeOf(current)
    if (code !== undefined && refusedSettings.has(code)) return true
    current = "cause" in current ? current.cause : undefined
  }
  return false
}
