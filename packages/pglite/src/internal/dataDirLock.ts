/**
 * One process per data directory. PGlite itself does not stop a second
 * instance (another process, or a second layer in this one) from opening a
 * directory that is in use, and two Postgres instances writing the same files
 * corrupt them. A lock file holding the owner's pid guards the directory; a
 * lock left by a process that no longer runs (a crash) is taken over.
 *
 * @internal
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Path from "node:path"

const LOCK_FILE = "pglite.lock"

/**
 * The directory PGlite will write to on the node filesystem, if any: a plain
 * path or a `file://` URL; its other forms (`memory://`, `idb://`…) are not files here.
 */
export const nodeDirectory = (dataDir: string | undefined): string | undefined => {
  if (dataDir === undefined || dataDir === "") return undefined
  if (dataDir.startsWith("file://")) return dataDir.slice("file://".length)
  return /^[a-z][a-z0-9+-]*:\/\//i.test(dataDir) ? undefined : dataDir
}

/** Takes the directory for this process until the scope closes, or fails naming its holder. */
export const acquire = (directory: string): Effect.Effect<void, SqlError, Scope.Scope> => {
  const path = Path.join(directory, LOCK_FILE)
  const ours = String(process.pid)
  return Effect.acquireRelease(
    Effect.try({
      try: () => {
        Fs.mkdirSync(directory, { recursive: true })
        return take(path, ours)
      },
      catch: (cause) => new SqlError({ cause, message: `PgliteClient: cannot lock the data directory ${directory}` })
    }).pipe(
      Effect.flatMap((holder) =>
        holder === undefined
          ? Effect.void
          : Effect.fail(
            new SqlError({
              message: holder === ours
                ? `PgliteClient: the data directory ${directory} is already open in this process`
                : `PgliteClient: the data directory ${directory} is in use by process ${holder}; one process at a time can open it`
            })
          )
      )
    ),
    () =>
      Effect.sync(() => {
        // Only our own lock: never remove one another process took over.
        if (readHolder(path) === ours) Fs.rmSync(path, { force: true })
      })
  )
}

/** Creates the lock file; returns the live holder's pid when someone else has it. */
const take = (path: string, ours: string): string | undefined => {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      Fs.writeFileSync(path, ours, { flag: "wx" })
      return undefined
    } catch (error) {
      // Anything but "it exists" (no permission, no space) is the open's failure.
      if (!isErrno(error, "EEXIST")) throw error
    }
    const holder = readHolder(path)
    if (holder !== undefined && (holder === ours || isRunning(Number(holder)))) return holder
    // Left by a process that is gone: take it over.
    Fs.rmSync(path, { force: true })
  }
  // Someone else created it again in between: theirs.
  return readHolder(path) ?? "unknown"
}

const readHolder = (path: string): string | undefined => {
  try {
    const text = Fs.readFileSync(path, "utf8").trim()
    return /^\d+$/.test(text) ? text : undefined
  } catch {
    return undefined // no lock file (any more)
  }
}

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0) // signal 0 only checks that the process exists
    return true
  } catch (error) {
    return isErrno(error, "EPERM") // exists, but belongs to another user
  }
}

const isErrno = (error: unknown, code: string): boolean =>
  typeof error === "object" && error !== null && "code" in error && error.code === code
