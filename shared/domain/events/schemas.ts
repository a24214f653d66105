import * as z from "zod/mini";
import { UnroutableEventError } from "../errors.ts";
import { UUID_PATTERN } from "../ids.ts";
import { nestsDeeperThan } from "../json.ts";
import { BUILT_IN_CATALOGUE, type EventCatalogue } from "./runtime-catalogue.ts";

/**
 * A UUID in the 8-4-4-4-12 hex form. VoIPBIN ids come from several generators (v1, v4, hand-made
 * fixtures), so the version and variant nibbles are not enforced; ids are lower-cased so that
 * keys built from them are canonical.
 */
export const uuidString = z.pipe(
  z.string().check(z.regex(UUID_PATTERN, "must be a UUID")),
  z.transform((s: string) => s.toLowerCase()),
);

/** The envelope EventBridge hands to a rule target (a Lambda). */
export const eventBridgeEnvelopeSchema = z.object({
  version: z.string(),
  id: z.string().check(z.minLength(1), z.maxLength(256)),
  "detail-type": z.string().check(z.minLength(1), z.maxLength(256)),
  source: z.string().check(z.minLength(1), z.maxLength(256)),
  account: z.string(),
  // RFC 3339 as EventBridge writes it; delivery ids are derived from it (shared/domain/ids.ts).
  time: z
    .string()
    .check(z.refine((time: string) => !Number.isNaN(Date.parse(time)), "must be a date and time")),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.unknown(),
});

/** `Detail` of a VoIPBIN resource event. `data` must be a JSON object: it is the resource. */
export const voipbinDetailSchema = z.object({
  customer_id: uuidString,
  data: z.record(z.string(), z.unknown()),
});

export type ResourceData = Record<string, unknown>;

/** A validated, routable VoIPBIN event. */
export interface RoutableEvent {
  readonly id: string;
  /** A built-in type, or one an operator added at run time (runtime-catalogue.ts). */
  readonly type: string;
  readonly source: string;
  readonly time: string;
  readonly customerId: string;
  readonly data: ResourceData;
  /** `Detail.delivery_mode: "shadow"` (PRODUCT §11): routed and signed, recorded, never sent. */
  readonly shadow: boolean;
  /**
   * `Detail.activeflow_webhook` (PRODUCT §11): the destination of the event's activeflow as the sender
   * knows it (`uri`, `method`), or undefined. Checked when used (activeflowTargetOf).
   */
  readonly activeflowWebhook?: { readonly uri: unknown; readonly method: unknown };
}

/**
 * `Detail.delivery_mode`: absent or `live` delivers, `shadow` only records (PRODUCT §11). Any other
 * value is refused rather than guessed: during a shadow period VoIPBIN's own sender still delivers,
 * so a misspelt "shadow" taken as live would deliver every event twice.
 */
export const DELIVERY_MODES = ["live", "shadow"] as const;

/** Reasons recorded on the unroutable-events queue. Stable strings: operators alarm and filter on them. */
export const UNROUTABLE_REASONS = {
  invalidEnvelope: "invalid_envelope",
  unknownEventType: "unknown_event_type",
  invalidCustomerId: "invalid_customer_id",
  invalidDetail: "invalid_detail",
  tooDeep: "too_deep",
} as const;

/**
 * How deep an event's `detail` may nest (`{}` is one level; a VoIPBIN detail `{customer_id, data:
 * {...}}` uses two before the resource's own fields). Deeper events are unroutable (`too_deep`):
 * serialising them (JSON.stringify recurses once per level) would exhaust the stack of every process
 * that handles them, and no VoIPBIN resource comes close (docs/delivery.md, "Unroutable events").
 */
export const MAX_DETAIL_DEPTH = 64;

function issuesOf(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
}

/**
 * Turns whatever EventBridge delivered into a routable event, or throws UnroutableEventError with
 * the first reason that makes it unroutable (envelope, then type, then customer id, then data).
 */
export function parseRoutableEvent(
  input: unknown,
  catalogue: EventCatalogue = BUILT_IN_CATALOGUE,
): RoutableEvent {
  // First, before anything walks or serialises the event: the envelope adds one level above detail.
  if (nestsDeeperThan(input, MAX_DETAIL_DEPTH + 1)) {
    throw new UnroutableEventError(UNROUTABLE_REASONS.tooDeep, [
      `the event nests deeper than ${MAX_DETAIL_DEPTH} levels below detail`,
    ]);
  }
  const envelope = eventBridgeEnvelopeSchema.safeParse(input);
  if (!envelope.success) {
    throw new UnroutableEventError(UNROUTABLE_REASONS.invalidEnvelope, issuesOf(envelope.error));
  }
  const type = envelope.data["detail-type"];
  if (!catalogue.has(type)) {
    throw new UnroutableEventError(UNROUTABLE_REASONS.unknownEventType, [
      `"${type.slice(0, 100)}" is not in the catalogue`,
    ]);
  }
  const detail = envelope.data.detail;
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) {
    throw new UnroutableEventError(UNROUTABLE_REASONS.invalidDetail, [
      "detail must be an object {customer_id, data}",
    ]);
  }
  const customer = uuidString.safeParse((detail as Record<string, unknown>).customer_id);
  if (!customer.success) {
    throw new UnroutableEventError(UNROUTABLE_REASONS.invalidCustomerId, [
      "detail.customer_id must be a UUID",
    ]);
  }
  const parsed = voipbinDetailSchema.safeParse(detail);
  const mode = (detail as Record<string, unknown>).delivery_mode;
  const badMode = mode !== undefined && !(DELIVERY_MODES as readonly unknown[]).includes(mode);
  if (!parsed.success || badMode) {
    throw new UnroutableEventError(UNROUTABLE_REASONS.invalidDetail, [
      ...(parsed.success ? [] : issuesOf(parsed.error).map((issue) => `detail.${issue}`)),
      ...(badMode ? ['detail.delivery_mode: must be "live" or "shadow" when present'] : []),
    ]);
  }
  return {
    id: envelope.data.id,
    type,
    source: envelope.data.source,
    time: envelope.data.time,
    customerId: parsed.data.customer_id,
    // The resource exactly as it arrived: zod's parsed copy rebuilds the object and drops keys such
    // as `__proto__`, which are plain data in JSON and must reach the receiver unchanged.
    data: (detail as { data: ResourceData }).data,
    shadow: mode === "shadow",
    ...activeflowWebhookOf(detail as Record<string, unknown>),
  };
}

/**
 * The body a subscriber receives: VoIPBIN's existing envelope, compact, keys in this order.
 * JSON.stringify keeps the key order of `data` as it arrived on the bus.
 */
export function webhookBody(type: string, data: unknown): string {
  return `{"type":${JSON.stringify(type)},"data":${JSON.stringify(data)}}`;
}

function activeflowWebhookOf(detail: Record<string, unknown>): Pick<RoutableEvent, "activeflowWebhook"> {
  const inline = detail.activeflow_webhook;
  if (typeof inline !== "object" || inline === null || Array.isArray(inline)) return {};
  const { uri, method } = inline as Record<string, unknown>;
  return { activeflowWebhook: { uri, method } };
}
