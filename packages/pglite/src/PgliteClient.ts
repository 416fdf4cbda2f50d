/**
 * An `@effect/sql` driver for PGlite, the embedded (WebAssembly) Postgres: a
 * `SqlClient` that runs the same SQL as `@effect/sql-pg` against a Postgres
 * server, in memory or in a data directory, with no server to run.
 *
 * PGlite is one Postgres session. The client serialises on it: a transaction
 * holds the session from BEGIN to COMMIT/ROLLBACK, and any other fiber's
 * statement waits for it, rather than running inside it.
 *
 * @since 0.1.0
 */
import { PGlite, type ParserOptions, type PGliteOptions, type SerializerOptions } from "@electric-sql/pglite"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Compiler from "./internal/compiler.js"
import * as DataDirLock from "./internal/dataDirLock.js"
import { type Guard, makeConnection, type PgliteConnection, toSqlError } from "./internal/connection.js"
import { subscribe } from "./internal/listen.js"
import * as NodePgTypes from "./internal/nodePgTypes.js"
import * as SessionLock from "./internal/sessionLock.js"

const ATTR_DB_SYSTEM_NAME = "db.system.name"
const ATTR_DB_NAMESPACE = "db.namespace"

/**
 * How to open the database.
 *
 * @category models
 * @since 0.1.0
 */
export interface PgliteClientConfig {
  /**
   * Where the database lives. A directory path (created when missing; a
   * `file://` URL also works) keeps it on disk across restarts; left out, the
   * database is in memory and gone when the scope closes.
   */
  readonly dataDir?: string | undefined
  /** Attributes added to every `sql.execute` and `sql.transaction` span. */
  readonly spanAttributes?: Record<string, unknown> | undefined
  /** Renames result columns, e.g. `String.snakeToCamel`. */
  readonly transformResultNames?: ((str: string) => string) | undefined
  /** Renames identifiers in queries, e.g. `String.camelToSnake`. */
  readonly transformQueryNames?: ((str: string) => string) | undefined
  /** Whether the name transforms also apply inside JSON values (default `true`, as `@effect/sql-pg`). */
  readonly transformJson?: boolean | undefined
  /** Extra PGlite result parsers by type OID, over the node-pg-compatible defaults. */
  readonly parsers?: ParserOptions | undefined
  /** Extra PGlite parameter serialisers by type OID, over the node-pg-compatible defaults. */
  readonly serializers?: SerializerOptions | undefined
}

/**
 * The PGlite client: a full `SqlClient`, plus the PGlite instance and LISTEN/NOTIFY.
 *
 * @category models
 * @since 0.1.0
 */
export interface Service extends SqlClient.SqlClient {
  readonly config: PgliteClientConfig
  /**
   * The PGlite instance, for what `@effect/sql` has no word for (`dumpDataDir`,
   * extensions). Statements sent to it directly bypass the session guard: they
   * can land inside another fiber's open transaction.
   */
  readonly pglite: PGlite
  /** A JSON parameter; the same fragment as `PgClient.json` in `@effect/sql-pg`. */
  readonly json: (value: unknown) => Statement.Fragment
  /**
   * Notifications on `channel`, from the moment the stream starts; LISTEN is
   * released when it ends. As with `PgClient.listen`, a notification sent before
   * LISTEN has run is not seen: use `listenScoped` to know when it has.
   */
  readonly listen: (channel: string) => Stream.Stream<string, SqlError>
  /**
   * Runs LISTEN now and returns the notifications from then on, queued until
   * read; UNLISTEN runs when the scope closes, which also ends the stream.
   */
  readonly listenScoped: (channel: string) => Effect.Effect<Stream.Stream<string>, SqlError, Scope.Scope>
  /**
   * `pg_notify(channel, payload)`. Inside `withTransaction` it joins the
   * transaction, so listeners hear it on commit and never on rollback.
   */
  readonly notify: (channel: string, payload: string) => Effect.Effect<void, SqlError>
}

/**
 * The PGlite client's tag. `layer` provides it together with `SqlClient`.
 *
 * @category tags
 * @since 0.1.0
 */
export class PgliteClient extends Context.Tag("@effect-outbox/pglite/PgliteClient")<PgliteClient, Service>() {}

/**
 * The Postgres statement compiler this driver uses (equivalent to `PgClient.makeCompiler`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeCompiler: (
  transform?: ((_: string) => string) | undefined,
  transformJson?: boolean
) => Statement.Compiler = Compiler.makeCompiler

/**
 * Opens PGlite and builds the client; the database is closed when the scope
 * closes. Prefer `layer`, which also provides `SqlClient` and `Reactivity`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  config: PgliteClientConfig = {}
): Effect.Effect<Service, SqlError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const db = yield* open(config)

    // The session lock. A plain statement takes it for its own run; a
    // transaction (or `sql.reserve`) takes it for its whole scope, so no other
    // fiber's statement runs between its BEGIN and its COMMIT.
    const session = SessionLock.make()
    const connection = makeConnection(db, session.withLock)
    const transactionConnection = makeConnection(db, (effect) => effect)
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        restore(session.take),
        Effect.addFinalizer(() => session.release)
      )
    ).pipe(Effect.as(transactionConnection))

    // Runs `effect` holding the session, or as it is in the fiber that holds it
    // through a transaction (waiting for the lock it holds would never end).
    const exclusive: Guard = (effect) =>
      Effect.flatMap(
        Effect.serviceOption(SqlClient.TransactionConnection),
        (transaction) =>
          Option.isSome(transaction) && transaction.value[0] === transactionConnection
            ? effect
            : session.withLock(effect)
      )

    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [
      ...(config.spanAttributes === undefined ? [] : Object.entries(config.spanAttributes)),
      [ATTR_DB_SYSTEM_NAME, "postgresql"],
      [ATTR_DB_NAMESPACE, "postgres"]
    ]

    const client = yield* SqlClient.make({
      acquirer: Effect.succeed(connection),
      transactionAcquirer,
      compiler: Compiler.makeCompiler(config.transformQueryNames, config.transformJson),
      spanAttributes,
      transformRows: config.transformResultNames === undefined
        ? undefined
        : Statement.defaultTransforms(config.transformResultNames, config.transformJson).array
    })

    const withTransaction = makeWithTransaction(session, transactionConnection, spanAttributes)
    const listenScoped = Effect.fn("PgliteClient.listenScoped")((channel: string) => subscribe(db, exclusive, channel))

    return Object.assign(client, {
      withTransaction,
      config,
      pglite: db,
      json: (value: unknown) => Compiler.PgJson(value),
      listen: (channel: string) => Stream.unwrapScoped(listenScoped(channel)),
      listenScoped,
      notify: Effect.fn("PgliteClient.notify")((channel: string, payload: string) =>
        Effect.asVoid(client`SELECT pg_notify(${channel}, ${payload})`)
      )
    })
  })

/**
 * `withTransaction` as `@effect/sql` builds it (nested calls become savepoints),
 * with two differences. Waiting for the session can be interrupted (`@effect/sql`
 * acquires the connection uninterruptibly, and here the wait lasts as long as
 * another fiber's whole transaction). And COMMIT is checked: Postgres answers
 * COMMIT with ROLLBACK when a statement failed inside the transaction and the
 * error was caught, and that must not pass for success.
 */
const makeWithTransaction = (
  session: SessionLock.SessionLock,
  transactionConnection: PgliteConnection,
  spanAttributes: ReadonlyArray<readonly [string, unknown]>
) =>
  SqlClient.makeWithTransaction({
    transactionTag: SqlClient.TransactionConnection,
    spanAttributes,
    // Runs uninterruptibly but for the wait itself, so that once the lock is
    // taken its release is registered with the transaction's scope.
    acquireConnection: Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Effect.interruptible(session.take)
      yield* Scope.addFinalizer(scope, session.release)
      return [scope, transactionConnection] as const
    }),
    begin: (conn) => conn.executeUnprepared("BEGIN", [], undefined),
    savepoint: (conn, id) => conn.executeUnprepared(`SAVEPOINT effect_sql_${id}`, [], undefined),
    // Every transaction runs on the one transaction connection.
    commit: () => transactionConnection.commit,
    rollback: (conn) => conn.executeUnprepared("ROLLBACK", [], undefined),
    rollbackSavepoint: (conn, id) => conn.executeUnprepared(`ROLLBACK TO SAVEPOINT effect_sql_${id}`, [], undefined)
  })

const open = (config: PgliteClientConfig): Effect.Effect<PGlite, SqlError, Scope.Scope> => {
  const options: PGliteOptions = {
    parsers: { ...NodePgTypes.parsers, ...config.parsers },
    serializers: { ...NodePgTypes.serializers, ...config.serializers },
    ...(config.dataDir === undefined ? {} : { dataDir: config.dataDir })
  }
  const directory = DataDirLock.nodeDirectory(config.dataDir)
  const lock = directory === undefined ? Effect.void : DataDirLock.acquire(directory)
  return Effect.zipRight(lock, Effect.acquireRelease(
    Effect.tryPromise({
      try: () => PGlite.create(options),
      catch: (cause) =>
        toSqlError(
          config.dataDir === undefined
            ? "PgliteClient: failed to start the in-memory database"
            : `PgliteClient: failed to open the database in ${config.dataDir}`,
          cause
        )
    }),
    // Waits for a clean shutdown (a checkpoint, for a data directory) so the
    // next open finds the data without recovery.
    (db) =>
      Effect.tryPromise({
        try: () => db.close(),
        catch: (cause) => toSqlError("PgliteClient: failed to close the database", cause)
      }).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
  ))
}

/**
 * Provides `PgliteClient` and `SqlClient` on one PGlite database (in memory without `dataDir`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  config: PgliteClientConfig = {}
): Layer.Layer<PgliteClient | SqlClient.SqlClient, SqlError> =>
  Layer.scopedContext(
    Effect.map(make(config), (client) =>
      Context.make(PgliteClient, client).pipe(
        Context.add(SqlClient.SqlClient, client)
      ))
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * `layer`, with the configuration read through `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<PgliteClientConfig>
): Layer.Layer<PgliteClient | SqlClient.SqlClient, ConfigError.ConfigError | SqlError> =>
  Layer.scopedContext(
    Config.unwrap(config).pipe(
      Effect.flatMap(make),
      Effect.map((client) =>
        Context.make(PgliteClient, client).pipe(
          Context.add(SqlClient.SqlClient, client)
        )
      )
    )
  ).pipe(Layer.provide(Reactivity.layer))
