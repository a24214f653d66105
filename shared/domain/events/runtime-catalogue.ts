/**
 * The catalogue as routing and the API see it at run time (PRODUCT §11, "Catalogue without a
 * redeploy"): the built-in catalogue (catalogue.ts) plus the types operators added with
 * `npm run ops -- event-types add`. Added types obey the built-in rules: `*` selects them,
 * `<resource>_*` selects them by their resource (an existing one or a new one), and an exact
 * pattern selects the type itself. Types outside both stay unroutable.
 */
import { EVENT_CATALOGUE, isEventType, patternMatches, RESOURCES, resourceOf } from "./catalogue.ts";

/** One type an operator added, as stored (docs/data-model.md, "Run-time event types"). */
export interface AddedEventType {
  readonly type: string;
  readonly resource: string;
  readonly description: string;
  readonly added_at: string;
}

export interface CatalogueView {
  readonly type: string;
  readonly resource: string;
  readonly added: boolean;
}

// VoIPBIN's types are lower-case snake case (`call_hangup`, `aicall_status_progressing`).
const TYPE_SYNTAX = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;
const RESOURCE_SYNTAX = /^[a-z][a-z0-9]*$/;
export const MAX_EVENT_TYPE_LENGTH = 100;
export const MAX_EVENT_TYPE_DESCRIPTION_LENGTH = 300;
/** The system's own types (`webhook_*`) are built in; an operator cannot add to them. */
const RESERVED_RESOURCE = "webhook";
/** Customer control events (PRODUCT §11) are never customer-facing. */
const RESERVED_TYPE_PREFIXES = ["webhook_", "customer_"];

/** Every problem of a type an operator wants to add, or an empty list (absent fields are not judged). */
export function addedEventTypeProblems(input: {
  type: string;
  resource?: string | undefined;
  description?: string | undefined;
}): string[] {
  const problems: string[] = [];
  const { type, resource, description } = input;
  if (!TYPE_SYNTAX.test(type) || type.length > MAX_EVENT_TYPE_LENGTH)
    problems.push(
      `type "${type.slice(0, MAX_EVENT_TYPE_LENGTH)}" must be lower-case snake case like call_transferred (at most ${MAX_EVENT_TYPE_LENGTH} characters)`,
    );
  else if (isEventType(type)) problems.push(`type "${type}" is built into the catalogue already`);
  else if (RESERVED_TYPE_PREFIXES.some((prefix) => type.startsWith(prefix)))
    problems.push(`type "${type}" is reserved (${RESERVED_TYPE_PREFIXES.map((p) => `${p}*`).join(", ")})`);
  if (resource === undefined) {
    // Judged by the caller (a missing option).
  } else if (!RESOURCE_SYNTAX.test(resource) || resource.length > 40)
    problems.push(
      `resource "${resource.slice(0, 40)}" must be a lower-case word like call (at most 40 characters)`,
    );
  else if (resource === RESERVED_RESOURCE) problems.push(`resource "${resource}" is the system's own`);
  const trimmed = description?.trim();
  if (trimmed === undefined) return problems;
  if (trimmed.length === 0) problems.push("description is required (one line saying what the event means)");
  else if (trimmed.length > MAX_EVENT_TYPE_DESCRIPTION_LENGTH || /[\r\n]/.test(trimmed))
    problems.push(`description must be one line of at most ${MAX_EVENT_TYPE_DESCRIPTION_LENGTH} characters`);
  return problems;
}

const WILDCARD_SUFFIX = "_*";

/**
 * Whether a pattern could name a run-time type or a run-time resource's wildcard: the subscription
 * schema lets such a pattern through, and the API then judges it against the merged catalogue.
 */
export function couldBeAddedPattern(pattern: string): boolean {
  if (pattern.endsWith(WILDCARD_SUFFIX))
    return RESOURCE_SYNTAX.test(pattern.slice(0, -WILDCARD_SUFFIX.length)) && pattern.length <= 42;
  return TYPE_SYNTAX.test(pattern) && pattern.length <= MAX_EVENT_TYPE_LENGTH;
}

/** The built-in catalogue merged with the added types; immutable, cheap to query. */
export class EventCatalogue {
  private readonly added: ReadonlyMap<string, AddedEventType>;
  private readonly addedByResource: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(added: readonly AddedEventType[] = []) {
    // A type later built in wins over a stale added copy of it.
    const usable = added.filter((entry) => !isEventType(entry.type));
    this.added = new Map(usable.map((entry) => [entry.type, entry]));
    const byResource = new Map<string, Set<string>>();
    for (const entry of usable) {
      const set = byResource.get(entry.resource) ?? new Set<string>();
      set.add(entry.type);
      byResource.set(entry.resource, set);
    }
    this.addedByResource = byResource;
  }

  /** Whether an event of this type is routable. */
  has(type: string): boolean {
    return isEventType(type) || this.added.has(type);
  }

  resourceOf(type: string): string | undefined {
    return resourceOf(type) ?? this.added.get(type)?.resource;
  }

  addedType(type: string): AddedEventType | undefined {
    return this.added.get(type);
  }

  /** `*`, a known type, or `<resource>_*` for a known resource. */
  isValidPattern(pattern: string): boolean {
    if (pattern === "*" || this.has(pattern)) return true;
    if (!pattern.endsWith(WILDCARD_SUFFIX) || pattern.length <= WILDCARD_SUFFIX.length) return false;
    const resource = pattern.slice(0, -WILDCARD_SUFFIX.length);
    return (RESOURCES as readonly string[]).includes(resource) || this.addedByResource.has(resource);
  }

  /** Whether a subscription pattern selects a type; the built-in rule for built-in types. */
  matches(pattern: string, type: string): boolean {
    if (isEventType(type)) return patternMatches(pattern, type);
    const entry = this.added.get(type);
    if (entry === undefined) return false;
    return pattern === "*" || pattern === type || pattern === `${entry.resource}${WILDCARD_SUFFIX}`;
  }

  /** Built-in types in catalogue order, then the added ones by type. */
  list(): CatalogueView[] {
    return [
      ...EVENT_CATALOGUE.map(({ type, resource }) => ({ type, resource, added: false })),
      ...[...this.added.values()]
        .sort((a, b) => a.type.localeCompare(b.type))
        .map(({ type, resource }) => ({ type, resource, added: true })),
    ];
  }
}

/** The catalogue with nothing added: what routing uses for built-in types without any read. */
export const BUILT_IN_CATALOGUE = new EventCatalogue();
