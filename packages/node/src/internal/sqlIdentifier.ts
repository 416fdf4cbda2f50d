/** A plain SQL identifier: a letter or underscore, then letters, digits or underscores, at most 63 bytes. */
export const isIdentifier = (text: string): boolean => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(text)
