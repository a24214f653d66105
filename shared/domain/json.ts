/**
 * JSON text any SQS accepts as a message body. SQS takes only XML 1.0 characters and rejects the
 * whole message otherwise (InvalidMessageContents); JSON.stringify already escapes control characters
 * and lone surrogates, but leaves U+FFFE and U+FFFF (valid JSON, so possible in an event's data) as
 * they are, and emulators such as fauxqs also refuse characters beyond the BMP (an emoji in an SMS).
 * Those are written as \uXXXX escapes (astral characters as their surrogate pair): the text parses
 * back to the same value.
 */
export function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\uD800-\uDFFF\uFFFE\uFFFF]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
