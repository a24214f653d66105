/**
 * The rules a subscription's fields obey (PRODUCT §3), as zod schemas. The API validates request
 * bodies with them and the OpenAPI document is generated from them, so the two cannot disagree.
 * What needs DNS (the destination policy of §6) is checked by the service, not here.
 */
import * as z from "zod/mini";
import { isValidEventTypePattern } from "../events/catalogue.ts";
import { couldBeAddedPattern } from "../events/runtime-catalogue.ts";
import { uuidString } from "../events/schemas.ts";
import { withMeta } from "../schema-meta.ts";
import { FILTER_LIMITS, filterProblems, type PayloadFilter } from "./filter.ts";
import { MAX_URL_LENGTH, SUBSCRIPTION_METHODS } from "./subscription.ts";

export { MAX_URL_LENGTH };
export const MAX_EVENT_TYPE_PATTERNS = 100;
export const MAX_DESCRIPTION_LENGTH = 256;
export const MAX_CUSTOM_HEADERS = 10;
export const MAX_HEADER_NAME_LENGTH = 128;
export const MAX_HEADER_VALUE_LENGTH = 1024;

/**
 * Header names a subscription may not set: the signature and identity headers of PRODUCT §3/§4, and
 * the hop-by-hop and framing headers whose value is the HTTP client's to decide (a wrong one would
 * corrupt the request rather than annotate it).
 */
export const RESERVED_HEADER_NAMES: readonly string[] = [
  "content-type",
  "content-length",
  "content-encoding",
  "host",
  "user-agent",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
];
export const RESERVED_HEADER_PREFIXES: readonly string[] = ["webhook-", "x-voipbin-", "proxy-"];

// RFC 9110 token characters; the first one alphanumeric, which also rules out names like __proto__.
const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9!#$%&'*+.^_`|~-]*$/;
// Visible ASCII, space and tab: what every HTTP stack accepts in a field value without reinterpretation.
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

export function isReservedHeaderName(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    RESERVED_HEADER_NAMES.includes(lower) ||
    RESERVED_HEADER_PREFIXES.some((prefix) => lower.startsWith(prefix))
  );
}

export const subscriptionUrlSchema = withMeta(
  z
    .string()
    .check(
      z.minLength(1, "must not be empty"),
      z.maxLength(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`),
      z.regex(/^\S+$/, "must not contain whitespace"),
    ),
  {
    description:
      "Where deliveries are sent. `https://` (`http://` only where the deployment allows it), at most 2048 characters, no user-info; the host must not be or resolve to a blocked address (loopback, private, link-local, CGNAT, documentation, multicast, reserved …).",
    example: "https://example.com/webhooks/voipbin",
  },
);

export const subscriptionMethodSchema = withMeta(z.enum(SUBSCRIPTION_METHODS), {
  description: "HTTP method of each delivery.",
  example: "POST",
});

export const EVENT_TYPE_PATTERN_MESSAGE =
  "is not a catalogue event type, a `<resource>_*` wildcard of a catalogue resource, or `*`";

export const eventTypePatternSchema = withMeta(
  z.string().check(
    z.maxLength(128, "must be at most 128 characters"),
    // A pattern that could name a type operators added at run time passes here; the API judges it
    // against the merged catalogue (shared/api/routes.ts, eventTypeProblems), with the same message.
    z.refine((pattern: string) => isValidEventTypePattern(pattern) || couldBeAddedPattern(pattern), {
      message: EVENT_TYPE_PATTERN_MESSAGE,
    }),
  ),
  {
    description: "An exact event type, a resource wildcard like `call_*`, or `*`.",
    example: "call_*",
  },
);

export const eventTypesSchema = withMeta(
  z.pipe(
    z
      .array(eventTypePatternSchema)
      .check(
        z.minLength(1, "must list at least one event type"),
        z.maxLength(MAX_EVENT_TYPE_PATTERNS, `must list at most ${MAX_EVENT_TYPE_PATTERNS} event types`),
      ),
    // Duplicates are harmless; keeping the first of each keeps the stored list tidy and the order the caller's.
    z.transform((patterns: string[]) => [...new Set(patterns)]),
  ),
  {
    description: "Event types to deliver (see `GET /v1/event-types`). Duplicates are dropped.",
    example: ["call_hangup", "message_*"],
  },
);

export const activeflowIdSchema = withMeta(uuidString, {
  description: "Deliver only events whose `data.activeflow_id` equals this id.",
  example: "c9d8e7f6-1111-4222-8333-444455556666",
});

export const descriptionSchema = withMeta(
  z
    .string()
    .check(z.maxLength(MAX_DESCRIPTION_LENGTH, `must be at most ${MAX_DESCRIPTION_LENGTH} characters`)),
  { description: "Free text for the customer's own use.", example: "Production call events" },
);

const customHeaderRecord = z
  .record(
    z.string().check(
      z.maxLength(
        MAX_HEADER_NAME_LENGTH,
        `header names must be at most ${MAX_HEADER_NAME_LENGTH} characters`,
      ),
      z.regex(HEADER_NAME, "header names must be HTTP tokens starting with a letter or digit"),
      z.refine((name: string) => !isReservedHeaderName(name), { message: "is a reserved header name" }),
    ),
    z
      .string()
      .check(
        z.maxLength(
          MAX_HEADER_VALUE_LENGTH,
          `header values must be at most ${MAX_HEADER_VALUE_LENGTH} characters`,
        ),
        z.regex(HEADER_VALUE, "header values must be printable ASCII (no line breaks)"),
      ),
  )
  .check(
    z.superRefine((headers: Record<string, string>, ctx) => {
      const names = Object.keys(headers);
      if (names.length > MAX_CUSTOM_HEADERS) {
        ctx.addIssue({ code: "custom", message: `at most ${MAX_CUSTOM_HEADERS} custom headers` });
      }
      const seen = new Set<string>();
      for (const name of names) {
        const lower = name.toLowerCase();
        if (seen.has(lower)) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: "is given twice (header names are case-insensitive)",
          });
        }
        seen.add(lower);
      }
    }),
  );

export const customHeadersSchema = withMeta(
  z.pipe(
    customHeaderRecord,
    // Stored lower-case: HTTP names are case-insensitive, and one spelling makes duplicates impossible.
    z.transform((headers: Record<string, string>) =>
      Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
    ),
  ),
  {
    description: `Custom headers sent with every delivery (at most ${MAX_CUSTOM_HEADERS}; names are stored lower-case). Reserved: ${[...RESERVED_HEADER_NAMES, ...RESERVED_HEADER_PREFIXES.map((p) => `${p}*`)].join(", ")}.`,
    example: { "x-customer-token": "s3cr3t" },
  },
);

export const subscriptionStatusSchema = withMeta(z.enum(["enabled", "disabled"]), {
  description:
    "`disabled` stops deliveries (queued jobs are dropped); setting `enabled` again clears `disabled_reason` and the failing clock.",
  example: "enabled",
});

export const FILTER_DESCRIPTION = `A payload filter over the event's \`data\` (docs/api.md, "Payload filters"): keys are field names (dotted for nested fields) or \`$and\`/\`$or\`/\`$not\`; a field takes a bare value (equality) or operators \`$eq\`, \`$neq\`, \`$gt\`, \`$gte\`, \`$lt\`, \`$lte\`, \`$in\`, \`$nin\`, \`$startsWith\`, \`$endsWith\`, \`$exist\`. At most ${FILTER_LIMITS.maxDepth} levels, ${FILTER_LIMITS.maxClauses} conditions and ${FILTER_LIMITS.maxBytes} bytes. Only events whose data matches are delivered.`;

export const payloadFilterSchema = withMeta(
  z.pipe(
    z.record(z.string(), z.unknown()).check(
      z.superRefine((filter: Record<string, unknown>, ctx) => {
        for (const problem of filterProblems(filter)) {
          ctx.addIssue({ code: "custom", path: [...problem.path], message: problem.message, input: filter });
        }
      }),
    ),
    z.transform((filter: Record<string, unknown>): PayloadFilter => filter),
  ),
  {
    description: FILTER_DESCRIPTION,
    example: { status: "hangup", duration: { $gte: 30 }, "source.target": { $startsWith: "+8210" } },
  },
);

/** `null` clears the field, absent leaves it (classic zod's `.nullable().optional()`). */
const clearable = <S extends z.ZodMiniType>(schema: S) => z.optional(z.nullable(schema));

export const createSubscriptionSchema = withMeta(
  z.strictObject({
    url: subscriptionUrlSchema,
    method: z._default(subscriptionMethodSchema, "POST"),
    event_types: eventTypesSchema,
    activeflow_id: clearable(activeflowIdSchema),
    description: clearable(descriptionSchema),
    headers: clearable(customHeadersSchema),
    filter: clearable(payloadFilterSchema),
    status: z._default(subscriptionStatusSchema, "enabled"),
  }),
  {
    id: "CreateSubscriptionRequest",
    example: {
      url: "https://example.com/webhooks/voipbin",
      event_types: ["call_hangup", "message_*"],
      description: "Production call events",
    },
  },
);

export type CreateSubscriptionInput = z.output<typeof createSubscriptionSchema>;

export const updateSubscriptionSchema = withMeta(
  z
    .strictObject({
      url: z.optional(subscriptionUrlSchema),
      method: z.optional(subscriptionMethodSchema),
      event_types: z.optional(eventTypesSchema),
      activeflow_id: clearable(activeflowIdSchema),
      description: clearable(descriptionSchema),
      headers: clearable(customHeadersSchema),
      filter: clearable(payloadFilterSchema),
      status: z.optional(subscriptionStatusSchema),
    })
    .check(
      z.refine((patch) => Object.values(patch).some((value) => value !== undefined), {
        message: "must change at least one field",
      }),
    ),
  {
    id: "UpdateSubscriptionRequest",
    description:
      "Only the fields present change; `null` clears `activeflow_id`, `description`, `headers` and `filter`.",
    example: { event_types: ["call_*"], status: "enabled" },
  },
);

export type UpdateSubscriptionInput = z.output<typeof updateSubscriptionSchema>;
