/**
 * @effect-outbox/core: the transactional outbox for Effect.
 *
 * @since 0.1.0
 */
export * as BrokerUrl from "./BrokerUrl.js"
export * as ConfirmedSend from "./ConfirmedSend.js"
export * as DeadLetter from "./DeadLetter.js"
export * as DurationText from "./DurationText.js"
export * as HandlerSender from "./HandlerSender.js"
export * as Leadership from "./Leadership.js"
export * as MemoryStore from "./MemoryStore.js"
export * as Message from "./Message.js"
export * as MessageHeaders from "./MessageHeaders.js"
export * as MessageRow from "./MessageRow.js"
export * as Outbox from "./Outbox.js"
export * as OutboxMetrics from "./OutboxMetrics.js"
export * as OutboxStore from "./OutboxStore.js"
export * as Redact from "./Redact.js"
export * as Relay from "./Relay.js"
export * as RelayConfig from "./RelayConfig.js"
export * as Reconnect from "./Reconnect.js"
export * as RetryPolicy from "./RetryPolicy.js"
export * as Sender from "./Sender.js"
export * as SupervisedSender from "./SupervisedSender.js"
export * as Topic from "./Topic.js"
