/**
 * JSON text any SQS accepts as a message body. SQS takes only XML 1.0 characters and rejects the
 * whole message otherwise (InvalidMessageContents); JSON.stringify already escapes control characters
 * and lone surrogates, but leaves U+FFFE and U+FFFF (valid JSON, so possible in an event's data) as
 * they are, and some SQS emulators also refuse characters beyond the BMP (an emoji in an SMS).
 * Those are written as \uXXXX escapes (astral characters as their surrogate pair): the text parses
 * back to the same value.
 */
export function sqsSafeJson(value: unknown): string {
  return sqsSafeJsonText(JSON.stringify(value));
}

/**
 * sqsSafeJson for JSON that is already text (an event kept as it was put on the bus, never parsed
 * and serialised again). Valid JSON holds those characters only inside strings, where the escape
 * stands for the same character.
 */
export function sqsSafeJsonText(json: string): string {
  return json.replace(
    /[\uD800-\uDFFF\uFFFE\uFFFF]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Whether a JSON-like value nests deeper than `limit` levels (a scalar is 0 levels, `{}` or `[]` 1).
 * Walks with an explicit stack, never recursing, so any depth is measured without exhausting the
 * call stack; stops at the first branch past the limit (a cycle counts as too deep).
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: { node: unknown; depth: number }[] = [{ node: value, depth: 0 }];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { node, depth } = entry;
    if (typeof node !== "object" || node === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) stack.push({ node: child, depth: depth + 1 });
    }
  }
  return false;
}

/** What stands in for a container cut off by a depth bound. */
export const DEPTH_CUT_MARKER = "[cut: nested too deep]";

/**
 * A copy of a JSON-like value with every plain object or array below `limit` levels replaced by
 * DEPTH_CUT_MARKER: what may be serialised, logged or parked whatever the input's depth. Recursion
 * is bounded by `limit`.
 */
export function cutBelowDepth(value: unknown, limit: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  // Only data is copied: an Error or another class instance stays itself (its own serialiser knows it).
  const prototype: unknown = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) return value;
  if (limit <= 0) return DEPTH_CUT_MARKER;
  if (Array.isArray(value)) return value.map((item) => cutBelowDepth(item, limit - 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // defineProperty: a `__proto__` key stays data instead of replacing the copy's prototype.
    Object.defineProperty(copy, key, {
      value: cutBelowDepth(item, limit - 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

/**
 * A JSON.stringify replacer that writes DEPTH_CUT_MARKER for containers below `limit` levels, so
 * that stringify (which recurses once per level) never runs out of stack on foreign input. Depth is
 * tracked through the holder object JSON.stringify passes as `this`. One replacer per stringify call.
 */
export function depthBoundedReplacer(limit: number): (this: unknown, key: string, value: unknown) => unknown {
  const depths = new WeakMap<object, number>();
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value !== "object" || value === null) return value;
    const parent = typeof this === "object" && this !== null ? (depths.get(this) ?? 0) : 0;
    const depth = parent + 1;
    if (depth > limit) return DEPTH_CUT_MARKER;
    depths.set(value, depth);
    return value;
  };
}
