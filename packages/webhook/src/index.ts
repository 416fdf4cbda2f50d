/**
 * @effect-outbox/webhook: Standard Webhooks for the outbox. The sender that
 * POSTs signed messages, and `verify` for the receiving side (no database).
 *
 * @since 0.1.0
 */

/**
 * A `Sender` that POSTs each message as JSON to a webhook URL, signed the Standard Webhooks way (https://www.standardwebhooks.com).
 *
 * @category modules
 * @since 0.1.0
 */
export * as WebhookSender from "./WebhookSender.js"

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com).
 *
 * @category modules
 * @since 0.1.0
 */
export * as WebhookSignature from "./WebhookSignature.js"
