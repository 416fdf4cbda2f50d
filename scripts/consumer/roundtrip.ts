/**
 * A Postgres publish → deliver round trip, as an app would write it: the SQL
 * store in its own schema, `publish` inside the app's transaction, the relay
 * woken by NOTIFY, an in-process handler receiving the order. The schema is
 * dropped at the end, whatever happened.
 */
import { HandlerSender, Outbox, Relay, Topic } from "@effect-outbox/core"
import { Notifications, SqlOutboxStore } from "@effect-outbox/sql"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Console, Deferred, Effect, Layer, Redacted, Schema } from "effect"

const schema = process.env.OUTBOX_SCHEMA ?? "consumer_app"
const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const OrderCreated = Topic.make("order.created", Schema.Struct({ orderId: Schema.String, total: Schema.Number }))

const program = Effect.gen(function*() {
  const delivered = yield* Deferred.make<string>()
  const Handlers = HandlerSender.layer(
    HandlerSender.handler(OrderCreated, (order) => Deferred.succeed(delivered, order.orderId))
  )
  const Store = SqlOutboxStore.layer({ schema, tablePrefix: "outbox" }).pipe(Layer.provide(Notifications.layerPg))
  const App = Layer.mergeAll(Outbox.layer, Relay.layer({ pollInterval: "5 seconds" })).pipe(
    Layer.provide(Handlers),
    Layer.provideMerge(Store)
  )

  yield* Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = yield* sql.withTransaction(Outbox.publish(OrderCreated, { orderId: "o-42", total: 42 }))
    const orderId = yield* Deferred.await(delivered).pipe(
      Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("the message was not delivered within 30 s") })
    )
    yield* Console.log(`round trip: message ${id} delivered order ${orderId}`)
  }).pipe(Effect.provide(App))
}).pipe(
  Effect.ensuring(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`).pipe(Effect.orDie)
  ),
  Effect.provide(PgClient.layer({ url: Redacted.make(url) }))
)

Effect.runPromise(program).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
