/**
 * Payload filters (PRODUCT §12, issue 24): an optional JSON filter over an event's `data`, with the
 * operator set of Hookdeck Outpost. Pure: validation (every problem at once, with its path) and an
 * evaluator that never throws, whatever the filter or the data. The rules are in docs/api.md
 * ("Payload filters") and the decisions in docs/decisions.md.
 *
 * Shape: a filter is an object whose keys are field names of `data` (dotted for nested fields, a
 * numeric segment indexes an array: `recipients.0.target`) or the logical operators `$and`, `$or`
 * (non-empty arrays of filters) and `$not` (a filter). A field's value is an operator object
 * (`{"$gte": 30}`, several operators are all required) or a bare value, meaning `$eq`. Keys of one
 * object are all required (an implicit `$and`).
 */

export const FILTER_LIMITS = {
  /** Nesting of filters inside `$and`/`$or`/`$not`; the top-level filter is depth 1. */
  maxDepth: 5,
  /** Comparisons in the whole filter (each operator on a field counts one, as does a bare value). */
  maxClauses: 50,
  /** The filter as compact JSON, in UTF-8 bytes. Keeps the subscription item and routing cheap. */
  maxBytes: 4096,
  /** Entries of one `$in`/`$nin` list. */
  maxListEntries: 100,
} as const;

export const COMPARISON_OPERATORS = [
  "$eq",
  "$neq",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$in",
  "$nin",
  "$startsWith",
  "$endsWith",
  "$exist",
] as const;
export const LOGICAL_OPERATORS = ["$and", "$or", "$not"] as const;

type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

/** A validated filter: a JSON object (see the module comment). */
export type PayloadFilter = { readonly [key: string]: unknown };

export interface FilterProblem {
  /** Path inside the filter, e.g. `["$and", 0, "duration", "$gt"]`. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const UTF8 = new TextEncoder();

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const isComparison = (key: string): key is ComparisonOperator =>
  (COMPARISON_OPERATORS as readonly string[]).includes(key);
const isLogical = (key: string): boolean => (LOGICAL_OPERATORS as readonly string[]).includes(key);

const ALL_OPERATORS = [...COMPARISON_OPERATORS, ...LOGICAL_OPERATORS].join(", ");

/**
 * Every problem of a filter, at once. Empty when it is valid. Walks the whole input even past a
 * limit, so a customer fixing one problem does not discover the next on the following request; the
 * walk itself is bounded by the byte limit (checked first: a filter over it is not walked).
 */
export function filterProblems(input: unknown): FilterProblem[] {
  const problems: FilterProblem[] = [];
  if (!isPlainObject(input)) {
    return [{ path: [], message: "must be a JSON object (field names or $and/$or/$not as keys)" }];
  }
  // TextEncoder, not Buffer: the portal's bundle runs this same code in the browser.
  const bytes = UTF8.encode(JSON.stringify(input)).length;
  if (bytes > FILTER_LIMITS.maxBytes) {
    return [
      {
        path: [],
        message: `must be at most ${FILTER_LIMITS.maxBytes} bytes as JSON (is ${bytes})`,
      },
    ];
  }
  let clauses = 0;
  let deepest = 0;

  const walkFilter = (filter: unknown, path: (string | number)[], depth: number): void => {
    if (depth > deepest) deepest = depth;
    if (!isPlainObject(filter)) {
      problems.push({ path, message: "must be an object (a filter)" });
      return;
    }
    const keys = Object.keys(filter);
    if (keys.length === 0) {
      problems.push({ path, message: "must have at least one condition" });
      return;
    }
    for (const key of keys) {
      const value = filter[key];
      const at = [...path, key];
      if (key === "$and" || key === "$or") {
        if (!Array.isArray(value) || value.length === 0) {
          problems.push({ path: at, message: "must be a non-empty array of filters" });
          continue;
        }
        value.forEach((inner, index) => {
          walkFilter(inner, [...at, index], depth + 1);
        });
      } else if (key === "$not") {
        walkFilter(value, at, depth + 1);
      } else if (key.startsWith("$")) {
        problems.push({
          path: at,
          message: isComparison(key)
            ? `${key} applies to a field: write {"<field>": {"${key}": …}}`
            : `unknown operator; use one of ${ALL_OPERATORS}`,
        });
      } else {
        const fieldProblem = fieldNameProblem(key);
        if (fieldProblem !== null) problems.push({ path: at, message: fieldProblem });
        walkCondition(value, at);
      }
    }
  };

  const walkCondition = (condition: unknown, path: (string | number)[]): void => {
    const operatorKeys = isPlainObject(condition) ? Object.keys(condition) : [];
    if (!isPlainObject(condition) || !operatorKeys.some((key) => key.startsWith("$"))) {
      clauses += 1; // a bare value: $eq
      return;
    }
    for (const key of operatorKeys) {
      const at = [...path, key];
      if (!key.startsWith("$")) {
        problems.push({
          path: at,
          message: "mixes a field name with operators; nest fields with a dotted name instead",
        });
        continue;
      }
      if (!isComparison(key)) {
        problems.push({
          path: at,
          message: isLogical(key)
            ? `${key} combines filters, not a field's conditions: write {"${key}": [{"<field>": …}, …]} at the filter level`
            : `unknown operator; use one of ${ALL_OPERATORS}`,
        });
        continue;
      }
      clauses += 1;
      const problem = operandProblem(key, condition[key]);
      if (problem !== null) problems.push({ path: at, message: problem });
    }
  };

  walkFilter(input, [], 1);
  if (deepest > FILTER_LIMITS.maxDepth) {
    problems.push({
      path: [],
      message: `nests $and/$or/$not ${deepest} levels deep; at most ${FILTER_LIMITS.maxDepth} (the filter itself is level 1)`,
    });
  }
  if (clauses > FILTER_LIMITS.maxClauses) {
    problems.push({
      path: [],
      message: `has ${clauses} conditions; at most ${FILTER_LIMITS.maxClauses}`,
    });
  }
  return problems;
}

function fieldNameProblem(name: string): string | null {
  if (name.length > 256) return "field names must be at most 256 characters";
  if (name.split(".").some((segment) => segment === "")) {
    return "must be a field name, dotted for nested fields (no empty segment)";
  }
  return null;
}

const isScalar = (value: unknown): boolean =>
  value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean";

function operandProblem(operator: ComparisonOperator, operand: unknown): string | null {
  switch (operator) {
    case "$eq":
    case "$neq":
      return null; // any JSON value; objects and arrays compare by value
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte":
      return typeof operand === "number" || typeof operand === "string"
        ? null
        : "must be a number or a string (strings compare as text, e.g. RFC 3339 times)";
    case "$in":
    case "$nin":
      if (!Array.isArray(operand) || operand.length === 0) return "must be a non-empty array of values";
      if (operand.length > FILTER_LIMITS.maxListEntries)
        return `must list at most ${FILTER_LIMITS.maxListEntries} values`;
      return operand.every(isScalar) ? null : "must list strings, numbers, booleans or null";
    case "$startsWith":
    case "$endsWith":
      return typeof operand === "string" ? null : "must be a string";
    case "$exist":
      return typeof operand === "boolean" ? null : "must be true or false";
  }
}

// ---------------------------------------------------------------- evaluation

const MISSING = Symbol("missing");

/** The value at a dotted path of `data`, or MISSING. Own properties only: `constructor` is not a field. */
function valueAt(data: unknown, path: string): unknown {
  let current: unknown = data;
  for (const segment of path.split(".")) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(segment)) return MISSING;
      const index = Number(segment);
      if (index >= current.length) return MISSING;
      current = current[index];
    } else if (isPlainObject(current)) {
      if (!Object.hasOwn(current, segment)) return MISSING;
      current = current[segment];
    } else {
      return MISSING;
    }
  }
  return current;
}

function deepEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (depth > 64) return false; // data is depth-limited upstream; this only keeps a cycle from recursing forever
  if (Array.isArray(a)) {
    return (
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, index) => deepEqual(item, b[index], depth + 1))
    );
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key], depth + 1))
    );
  }
  return false;
}

/** Thrown inside evaluation for a filter validation would have refused; matchesFilter turns it into false. */
class InvalidFilter extends Error {}
const invalid = (): never => {
  throw new InvalidFilter();
};

/** Ordering only between two numbers or two strings; a field of another type does not compare. */
function compare(value: unknown, operand: unknown): number | null {
  if (typeof operand !== "number" && typeof operand !== "string") return invalid();
  if (typeof value === "number" && typeof operand === "number") return value - operand;
  if (typeof value === "string" && typeof operand === "string")
    return value < operand ? -1 : value > operand ? 1 : 0;
  return null;
}

/** `$in`: the value is one of the list, or (a list itself) shares an element with it. */
function isIn(value: unknown, list: unknown): boolean {
  if (!Array.isArray(list)) return invalid();
  if (value === MISSING) return false;
  const candidates = Array.isArray(value) ? value : [value];
  return candidates.some((candidate) => list.some((entry) => deepEqual(candidate, entry)));
}

const text = (operand: unknown): string => (typeof operand === "string" ? operand : invalid());

function testOperator(operator: string, value: unknown, operand: unknown): boolean {
  switch (operator) {
    case "$eq":
      return value !== MISSING && deepEqual(value, operand);
    case "$neq":
      return value === MISSING || !deepEqual(value, operand);
    case "$gt":
      return (compare(value, operand) ?? Number.NaN) > 0;
    case "$gte":
      return (compare(value, operand) ?? Number.NaN) >= 0;
    case "$lt":
      return (compare(value, operand) ?? Number.NaN) < 0;
    case "$lte":
      return (compare(value, operand) ?? Number.NaN) <= 0;
    case "$in":
      return isIn(value, operand);
    case "$nin":
      return !isIn(value, operand);
    case "$startsWith":
      return typeof value === "string" && value.startsWith(text(operand));
    case "$endsWith":
      return typeof value === "string" && value.endsWith(text(operand));
    case "$exist":
      return typeof operand === "boolean" ? (value !== MISSING) === operand : invalid();
    default:
      return invalid();
  }
}

function matchesCondition(condition: unknown, value: unknown): boolean {
  if (!isPlainObject(condition) || !Object.keys(condition).some((key) => key.startsWith("$"))) {
    return testOperator("$eq", value, condition);
  }
  // Every operator is checked even after one fails, so that an invalid one anywhere is noticed
  // (an invalid filter matches nothing, also under $not).
  let all = true;
  for (const [operator, operand] of Object.entries(condition)) {
    if (!operator.startsWith("$")) invalid();
    if (!testOperator(operator, value, operand)) all = false;
  }
  return all;
}

function matchesAt(filter: unknown, data: unknown, depth: number): boolean {
  if (!isPlainObject(filter) || depth > FILTER_LIMITS.maxDepth) return invalid();
  const entries = Object.entries(filter);
  if (entries.length === 0) return invalid();
  let all = true;
  for (const [key, condition] of entries) {
    let holds: boolean;
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(condition) || condition.length === 0) return invalid();
      const results = condition.map((inner) => matchesAt(inner, data, depth + 1));
      holds = key === "$and" ? results.every(Boolean) : results.some(Boolean);
    } else if (key === "$not") {
      holds = !matchesAt(condition, data, depth + 1);
    } else if (key.startsWith("$")) {
      return invalid();
    } else {
      holds = matchesCondition(condition, valueAt(data, key));
    }
    if (!holds) all = false;
  }
  return all;
}

/**
 * Whether an event's `data` passes the filter. Never throws: a stored filter that is somehow not
 * valid (an unknown operator, a wrong operand, anywhere in it, also under `$not`) matches nothing,
 * so a damaged filter can only withhold events, never send a customer what they filtered out. The
 * whole filter is walked (no early exit), which is what makes that so; it is at most 50 conditions.
 */
export function matchesFilter(filter: unknown, data: unknown): boolean {
  try {
    return matchesAt(filter, data, 1);
  } catch {
    return false;
  }
}
