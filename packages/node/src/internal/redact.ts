/**
 * Makes a function that replaces every occurrence of the given secret values
 * in a text, so an error text built from a foreign message (a transport
 * error, a response body that echoes a header) cannot carry one out.
 */
export const scrubber = (secrets: ReadonlyArray<string>): (text: string) => string => {
  // Longest first, so a secret containing another is replaced whole. Values
  // under 4 characters (a query flag like `v=1`) would garble every message
  // (status codes, ports) while protecting nothing.
  const values = [...new Set(secrets.filter((secret) => secret.length >= 4))].sort((a, b) => b.length - a.length)
  return (text) => values.reduce((scrubbed, secret) => scrubbed.split(secret).join("<redacted>"), text)
}
