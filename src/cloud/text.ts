/**
 * Text pcloud stores must be servable on every wire it answers on: the narrowest is XML 1.0, whose Char production
 * leaves out NUL and the other C0 controls (but tab, LF, CR), U+FFFE/U+FFFF and unpaired surrogates.
 */
export const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Whether a string holds a character XML 1.0 cannot carry. */
export function unservable(s: string): boolean {
  return NOT_XML_CHAR.test(s);
}
