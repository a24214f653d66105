import { CodedError } from "#shared/domain/errors.ts";

/**
 * EventBridge event pattern matching, for the local bus to apply the same rule patterns as the CDK
 * stack (shared/domain/events/catalogue.ts: eventRulePattern, routerRules). It implements what those
 * rules use, with EventBridge's semantics (EventBridge User Guide, "Content filtering in Amazon
 * EventBridge event patterns"): exact values (strings, numbers, null, booleans), `prefix`,
 * `wildcard`, `numeric`, `exists`, and `anything-but` with a wildcard. Every other filter EventBridge
 * has (`suffix`, `equals-ignore-case`, `cidr`, `$or`, other forms of `anything-but`) is refused by
 * name with UnsupportedEventPatternError, so a rule that starts using one fails the local stack's
 * start instead of matching differently from AWS: extend this file, with a test, first.
 *
 * A pattern is compiled once: anything EventBridge would reject with InvalidEventPatternException
 * is rejected here too, at startup, rather than silently matching nothing.
 */
export class InvalidEventPatternError extends CodedError {
  override readonly name = "InvalidEventPatternError";
  readonly code = "EVENT_PATTERN_INVALID";
}

/** A filter EventBridge has but no rule of this stack uses, so the local bus does not implement it. */
export class UnsupportedEventPatternError extends CodedError {
  override readonly name = "UnsupportedEventPatternError";
  readonly code = "EVENT_PATTERN_UNSUPPORTED";
  constructor(filter: string, at: string) {
    super(
      `${filter} (at ${at || "(root)"}) is valid EventBridge but not implemented by the local bus: no rule of this stack uses it; implement it in local/event-pattern.ts, with a test, before a rule does`,
    );
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type ValueMatcher = (value: Json | undefined) => boolean;
export type EventPredicate = (event: unknown) => boolean;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Compiles an event pattern (object or JSON text) into a predicate over events. */
export function compileEventPattern(pattern: unknown): EventPredicate {
  const parsed = typeof pattern === "string" ? parseJson(pattern) : pattern;
  if (!isObject(parsed)) throw new InvalidEventPatternError("Event pattern is not a JSON object");
  const match = compileObject(parsed, "");
  return (event) => match(isObject(event) ? (event as { [key: string]: Json }) : undefined);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidEventPatternError("Event pattern is not valid JSON");
  }
}

type ObjectMatcher = (object: { [key: string]: Json } | undefined) => boolean;

function compileObject(pattern: Record<string, unknown>, path: string): ObjectMatcher {
  const fields: ObjectMatcher[] = [];
  for (const [key, value] of Object.entries(pattern)) {
    const at = path === "" ? key : `${path}.${key}`;
    if (key === "$or") {
      throw new UnsupportedEventPatternError("$or", path);
    }
    if (Array.isArray(value)) {
      const leaf = compileLeaf(value, at);
      fields.push((object) => leaf(object?.[key]));
    } else if (isObject(value)) {
      const nested = compileObject(value, at);
      fields.push((object) => {
        const child = object?.[key];
        // A missing or non-object field still lets `exists: false` leaves below it match.
        return nested(isObject(child) ? (child as { [key: string]: Json }) : undefined);
      });
    } else {
      throw new InvalidEventPatternError(`Match value at ${at} must be an array or an object`);
    }
  }
  return (object) => fields.every((field) => field(object));
}

/** A leaf: the field matches when its value (or, for an array, any element) satisfies any matcher. */
function compileLeaf(matchers: unknown[], at: string): ValueMatcher {
  if (matchers.length === 0) throw new InvalidEventPatternError(`Empty arrays are not allowed (at ${at})`);
  const compiled = matchers.map((matcher) => compileMatcher(matcher, at));
  const existence = compiled.filter((c) => c.kind === "exists");
  const content = compiled.filter((c) => c.kind === "content");
  return (value) => {
    if (existence.some((c) => c.test(value))) return true;
    if (value === undefined) return false;
    const values = Array.isArray(value) ? value : [value];
    return values.some((element) => content.some((c) => c.test(element)));
  };
}

interface CompiledMatcher {
  readonly kind: "exists" | "content";
  readonly test: ValueMatcher;
}

function compileMatcher(matcher: unknown, at: string): CompiledMatcher {
  if (matcher === null || typeof matcher === "string" || typeof matcher === "boolean") {
    return { kind: "content", test: (value) => value === matcher };
  }
  if (typeof matcher === "number") {
    return { kind: "content", test: (value) => typeof value === "number" && value === matcher };
  }
  if (!isObject(matcher)) throw new InvalidEventPatternError(`Unsupported match value at ${at}`);
  const keys = Object.keys(matcher);
  const [operator] = keys;
  if (keys.length !== 1 || operator === undefined) {
    throw new InvalidEventPatternError(`A filter at ${at} must have exactly one operator`);
  }
  const operand = matcher[operator];
  switch (operator) {
    case "exists": {
      if (typeof operand !== "boolean")
        throw new InvalidEventPatternError(`exists at ${at} takes true or false`);
      return { kind: "exists", test: (value) => (value !== undefined) === operand };
    }
    case "prefix": {
      if (isObject(operand) && "equals-ignore-case" in operand) {
        throw new UnsupportedEventPatternError("prefix equals-ignore-case", at);
      }
      const expected = nonEmptyString(operand, operator, at);
      return { kind: "content", test: (value) => typeof value === "string" && value.startsWith(expected) };
    }
    case "wildcard": {
      const regex = wildcardRegex(nonEmptyString(operand, operator, at, true));
      return { kind: "content", test: (value) => typeof value === "string" && regex.test(value) };
    }
    case "numeric":
      return { kind: "content", test: numericMatcher(operand, at) };
    case "anything-but": {
      const excluded = anythingButMatcher(operand, at);
      return { kind: "content", test: (value) => !excluded(value) };
    }
    case "suffix":
    case "equals-ignore-case":
    case "cidr":
      throw new UnsupportedEventPatternError(operator, at);
    default:
      throw new InvalidEventPatternError(`Unrecognized match type ${operator} (at ${at})`);
  }
}

function nonEmptyString(operand: unknown, operator: string, at: string, allowEmpty = false): string {
  if (typeof operand !== "string" || (!allowEmpty && operand === "")) {
    throw new InvalidEventPatternError(
      `${operator} at ${at} must be ${allowEmpty ? "a" : "a non-empty"} string`,
    );
  }
  return operand;
}

/** `*` matches any run of characters; `\*` is a literal star. */
function wildcardRegex(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] ?? "";
    if (char === "\\" && pattern[i + 1] === "*") {
      source += "\\*";
      i++;
    } else if (char === "*") {
      if (pattern[i + 1] === "*") throw new InvalidEventPatternError("Consecutive wildcard characters");
      source += ".*";
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`, "s");
}

const NUMERIC_OPERATORS: Record<string, (a: number, b: number) => boolean> = {
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  "=": (a, b) => a === b,
  ">=": (a, b) => a >= b,
  ">": (a, b) => a > b,
};

function numericMatcher(operand: unknown, at: string): ValueMatcher {
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0 || operand.length > 4) {
    throw new InvalidEventPatternError(`numeric at ${at} takes one or two [operator, number] pairs`);
  }
  const checks: ((n: number) => boolean)[] = [];
  for (let i = 0; i < operand.length; i += 2) {
    const op = operand[i];
    const bound = operand[i + 1];
    const compare = typeof op === "string" ? NUMERIC_OPERATORS[op] : undefined;
    if (compare === undefined || typeof bound !== "number") {
      throw new InvalidEventPatternError(`numeric at ${at}: bad operator or bound`);
    }
    checks.push((n) => compare(n, bound));
  }
  return (value) => typeof value === "number" && checks.every((check) => check(value));
}

/** What `anything-but` excludes: the routing rule's form, a wildcard filter. */
function anythingButMatcher(operand: unknown, at: string): ValueMatcher {
  if (isObject(operand)) {
    const [operator, ...rest] = Object.keys(operand);
    if (operator === undefined || rest.length > 0) {
      throw new InvalidEventPatternError(`anything-but at ${at} takes one filter`);
    }
    if (operator === "wildcard") {
      const inner = operand[operator];
      const list = Array.isArray(inner) ? inner : [inner];
      const regexes = list.map((item) => wildcardRegex(nonEmptyString(item, operator, at, true)));
      return (value) => typeof value === "string" && regexes.some((regex) => regex.test(value));
    }
    if (operator === "prefix" || operator === "suffix" || operator === "equals-ignore-case") {
      throw new UnsupportedEventPatternError(`anything-but ${operator}`, at);
    }
    throw new InvalidEventPatternError(`anything-but at ${at} does not take ${operator}`);
  }
  if (operand === null || (Array.isArray(operand) && operand.length === 0)) {
    throw new InvalidEventPatternError(`anything-but at ${at} takes a value or a filter`);
  }
  throw new UnsupportedEventPatternError("anything-but with values", at);
}
