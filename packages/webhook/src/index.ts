/**
 * @effect-outbox/webhook: Standard Webhooks for the outbox. The sender that
 * POSTs signed messages, and `verify` for the receiving side (no database).
 *
 * @since 0.1.0
 */
export * as WebhookSender from "./WebhookSender.js"
export * as WebhookSignature from "./WebhookSignature.js"
