/**
 * The catalogue of event types a customer can subscribe to (PRODUCT §2): VoIPBIN's customer-facing
 * resource events plus this service's own two. This module is the source of truth at runtime; the
 * fixture file it was transcribed from lives outside the deployable tree and is only checked by tests.
 *
 * Resources group types the way VoIPBIN's services publish them, not by name prefix: `ai` also owns
 * `aicall_*`, `aimessage_*`, `summary_*` and `team_*`, `conversation` owns `account_*`, and so on.
 * A wildcard subscription `<resource>_*` therefore means "every type of that resource".
 */

export interface CatalogueEntry {
  readonly type: string;
  readonly resource: string;
}

export const EVENT_CATALOGUE = [
  // call: a single call leg, inbound or outbound, through its lifecycle
  { type: "call_created", resource: "call" },
  { type: "call_dialing", resource: "call" },
  { type: "call_ringing", resource: "call" },
  { type: "call_progressing", resource: "call" },
  { type: "call_terminating", resource: "call" },
  { type: "call_canceling", resource: "call" },
  { type: "call_updated", resource: "call" },
  { type: "call_hangup", resource: "call" },
  { type: "call_deleted", resource: "call" },

  // groupcall: one call ringing several destinations (ring-all or one by one)
  { type: "groupcall_created", resource: "groupcall" },
  { type: "groupcall_progressing", resource: "groupcall" },
  { type: "groupcall_hangup", resource: "groupcall" },
  { type: "groupcall_deleted", resource: "groupcall" },

  // recording
  { type: "recording_started", resource: "recording" },
  { type: "recording_finished", resource: "recording" },

  // conference: a multi-party bridge
  { type: "conference_created", resource: "conference" },
  { type: "conference_updated", resource: "conference" },
  { type: "conference_deleted", resource: "conference" },

  // queuecall: a call waiting in, and being served by, an agent queue
  { type: "queuecall_created", resource: "queuecall" },
  { type: "queuecall_waiting", resource: "queuecall" },
  { type: "queuecall_connecting", resource: "queuecall" },
  { type: "queuecall_serviced", resource: "queuecall" },
  { type: "queuecall_done", resource: "queuecall" },
  { type: "queuecall_abandoned", resource: "queuecall" },
  { type: "queuecall_deleted", resource: "queuecall" },

  // agent: a human agent who answers queue calls
  { type: "agent_created", resource: "agent" },
  { type: "agent_updated", resource: "agent" },
  { type: "agent_deleted", resource: "agent" },
  { type: "agent_status_updated", resource: "agent" },

  // message: SMS/MMS
  { type: "message_created", resource: "message" },
  { type: "message_updated", resource: "message" },
  { type: "message_deleted", resource: "message" },

  // activeflow: a running instance of a flow
  { type: "activeflow_created", resource: "activeflow" },
  { type: "activeflow_updated", resource: "activeflow" },
  { type: "activeflow_deleted", resource: "activeflow" },

  // transcribe: speech-to-text sessions and their results
  { type: "transcribe_created", resource: "transcribe" },
  { type: "transcribe_progressing", resource: "transcribe" },
  { type: "transcribe_done", resource: "transcribe" },
  { type: "transcript_created", resource: "transcribe" },
  { type: "transcribe_speech_started", resource: "transcribe" },
  { type: "transcribe_speech_interim", resource: "transcribe" },
  { type: "transcribe_speech_ended", resource: "transcribe" },

  // campaign: automated outbound calling/messaging over an outdial list
  { type: "campaign_created", resource: "campaign" },
  { type: "campaign_updated", resource: "campaign" },
  { type: "campaign_deleted", resource: "campaign" },
  { type: "campaign_status_run", resource: "campaign" },
  { type: "campaign_status_stopping", resource: "campaign" },
  { type: "campaign_status_stop", resource: "campaign" },
  { type: "campaigncall_created", resource: "campaign" },
  { type: "campaigncall_updated", resource: "campaign" },
  { type: "campaigncall_deleted", resource: "campaign" },

  // outdial: the target lists campaigns dial
  { type: "outdial_created", resource: "outdial" },
  { type: "outdial_updated", resource: "outdial" },
  { type: "outdial_deleted", resource: "outdial" },

  // conversation: omnichannel messaging threads and the channel accounts behind them
  { type: "conversation_created", resource: "conversation" },
  { type: "conversation_updated", resource: "conversation" },
  { type: "conversation_message_created", resource: "conversation" },
  { type: "conversation_message_updated", resource: "conversation" },
  { type: "conversation_message_deleted", resource: "conversation" },
  { type: "account_created", resource: "conversation" },
  { type: "account_updated", resource: "conversation" },
  { type: "account_deleted", resource: "conversation" },

  // email
  { type: "email_created", resource: "email" },
  { type: "email_updated", resource: "email" },
  { type: "email_deleted", resource: "email" },

  // webchat: the embeddable web chat widget
  { type: "webchat_message_created", resource: "webchat" },
  { type: "webchat_session_ended", resource: "webchat" },

  // number: phone numbers the customer owns
  { type: "number_created", resource: "number" },
  { type: "number_updated", resource: "number" },
  { type: "number_deleted", resource: "number" },

  // ai: AI agent configurations, AI-handled calls, their messages, summaries and teams
  { type: "ai_created", resource: "ai" },
  { type: "ai_updated", resource: "ai" },
  { type: "ai_deleted", resource: "ai" },
  { type: "aicall_status_initializing", resource: "ai" },
  { type: "aicall_status_progressing", resource: "ai" },
  { type: "aicall_status_pausing", resource: "ai" },
  { type: "aicall_status_resuming", resource: "ai" },
  { type: "aicall_status_terminating", resource: "ai" },
  { type: "aicall_status_terminated", resource: "ai" },
  { type: "aimessage_created", resource: "ai" },
  { type: "aimessage_intermediate", resource: "ai" },
  { type: "summary_created", resource: "ai" },
  { type: "summary_updated", resource: "ai" },
  { type: "summary_deleted", resource: "ai" },
  { type: "team_created", resource: "ai" },
  { type: "team_updated", resource: "ai" },
  { type: "team_deleted", resource: "ai" },

  // talk: internal chat rooms between agents
  { type: "chat_created", resource: "talk" },
  { type: "chat_updated", resource: "talk" },
  { type: "chat_deleted", resource: "talk" },
  { type: "chatmessage_created", resource: "talk" },
  { type: "chatmessage_deleted", resource: "talk" },
  { type: "chatmessage_reaction_updated", resource: "talk" },
  { type: "chatparticipant_added", resource: "talk" },
  { type: "chatparticipant_removed", resource: "talk" },

  // webhook: this service's own events
  { type: "webhook_test", resource: "webhook" },
  { type: "webhook_subscription_disabled", resource: "webhook" },
  { type: "webhook_endpoint_failing", resource: "webhook" },
  { type: "webhook_delivery_exhausted", resource: "webhook" },
  { type: "webhook_endpoint_recovered", resource: "webhook" },
] as const satisfies readonly CatalogueEntry[];

export type EventType = (typeof EVENT_CATALOGUE)[number]["type"];
export type EventResource = (typeof EVENT_CATALOGUE)[number]["resource"];

export const EVENT_TYPES: ReadonlySet<string> = new Set<string>(EVENT_CATALOGUE.map((entry) => entry.type));

/** Resource names in catalogue order, each once. */
export const RESOURCES: readonly EventResource[] = [
  ...new Set(EVENT_CATALOGUE.map((entry) => entry.resource)),
];

const RESOURCE_SET: ReadonlySet<string> = new Set<string>(RESOURCES);

const RESOURCE_BY_TYPE: ReadonlyMap<string, EventResource> = new Map(
  EVENT_CATALOGUE.map((entry) => [entry.type, entry.resource]),
);

// Precomputed so that the router's per-event matching is a couple of hash lookups per pattern.
const TYPES_BY_RESOURCE: ReadonlyMap<string, ReadonlySet<EventType>> = (() => {
  const map = new Map<string, Set<EventType>>();
  for (const entry of EVENT_CATALOGUE) {
    let types = map.get(entry.resource);
    if (types === undefined) {
      types = new Set();
      map.set(entry.resource, types);
    }
    types.add(entry.type);
  }
  return map;
})();

const WILDCARD_SUFFIX = "_*";
const MATCH_ALL = "*";

export function isEventType(s: string): s is EventType {
  return EVENT_TYPES.has(s);
}

/** The resource a type belongs to, or undefined when the type is not in the catalogue. */
export function resourceOf(type: string): EventResource | undefined {
  return RESOURCE_BY_TYPE.get(type);
}

/** Types of a resource in catalogue order; empty for an unknown resource. */
export function typesOfResource(resource: string): readonly EventType[] {
  const types = TYPES_BY_RESOURCE.get(resource);
  return types === undefined ? [] : [...types];
}

/** The resource named by a `<resource>_*` pattern, when it is one (the resource itself may be unknown). */
function wildcardResource(pattern: string): string | undefined {
  return pattern.length > WILDCARD_SUFFIX.length && pattern.endsWith(WILDCARD_SUFFIX)
    ? pattern.slice(0, -WILDCARD_SUFFIX.length)
    : undefined;
}

/** `*`, an exact catalogue type, or `<resource>_*` for a catalogue resource. */
export function isValidEventTypePattern(pattern: string): boolean {
  if (pattern === MATCH_ALL || EVENT_TYPES.has(pattern)) return true;
  const resource = wildcardResource(pattern);
  return resource !== undefined && RESOURCE_SET.has(resource);
}

/** Whether a subscription pattern selects an event type; invalid patterns select nothing. */
export function patternMatches(pattern: string, type: string): boolean {
  if (pattern === type) return EVENT_TYPES.has(type);
  if (pattern === MATCH_ALL) return EVENT_TYPES.has(type);
  const resource = wildcardResource(pattern);
  if (resource === undefined) return false;
  const types: ReadonlySet<string> | undefined = TYPES_BY_RESOURCE.get(resource);
  return types?.has(type) ?? false;
}

/** Sources of customer-facing events all start with this (`voipbin.call-manager`, `voipbin.webhooks`...). */
export const CUSTOMER_FACING_SOURCE_PREFIX = "voipbin.";

export interface EventRulePattern {
  readonly source: readonly [{ readonly prefix: typeof CUSTOMER_FACING_SOURCE_PREFIX }];
}

/**
 * The EventBridge rule pattern that feeds the router, shared by CDK and the local emulator.
 *
 * It selects on the source only, not on the catalogue's types: PRODUCT §2 wants an event of an unknown
 * type kept on the unroutable queue with its reason, and a rule that filtered on types would make
 * EventBridge drop such events silently before the router could park them. The catalogue stays the
 * one judge of types, in the router (docs/decisions.md).
 */
export function eventRulePattern(): EventRulePattern {
  return { source: [{ prefix: CUSTOMER_FACING_SOURCE_PREFIX }] };
}

/** Where the router's fair queue takes the tenant of an event from (EventBridge's dynamic path syntax). */
export const ROUTER_MESSAGE_GROUP_PATH = "$.detail.customer_id";

/** A customer id the fair rule hands on with its MessageGroupId: a string shaped like a UUID. */
const CUSTOMER_ID_SHAPE = "*-*-*-*-*";

/** One of the bus rules that send events to the router's fair queue. */
export interface RouterRule {
  /** The construct id and the local rule's name. */
  readonly id: "ToRouterFair" | "ToRouterUngrouped";
  readonly description: string;
  readonly eventPattern: Readonly<Record<string, unknown>>;
  /** The SQS target's MessageGroupId, as a dynamic path into the event; none: no group. */
  readonly messageGroupIdPath?: typeof ROUTER_MESSAGE_GROUP_PATH;
}

/**
 * The two rules that together send every `voipbin.*` event (eventRulePattern) to the router's fair
 * queue (docs/delivery.md, "Fair routing"), shared by CDK and the local bus:
 * - ToRouterFair: events whose `detail.customer_id` is a string shaped like a UUID, sent with
 *   MessageGroupId = that customer id, so that SQS's fair queue keeps one customer's burst from
 *   delaying another customer's events (EventBridge's SqsParameters.MessageGroupId for "an Amazon SQS
 *   fair or FIFO queue", with a dynamic path; EventBridge User Guide, "Event bus targets", target
 *   parameters and dynamic path parameters; EventBridge API Reference, SqsParameters);
 * - ToRouterUngrouped: every other `voipbin.*` event (no customer id, or not a string of that shape),
 *   sent without a group, so that the router still parks it on the unroutable queue with its reason:
 *   a dynamic path that does not resolve to a usable group id would fail the target instead.
 * An event matched by both (an array holding both kinds of value) is routed twice, which the router's
 * idempotence makes harmless; none is matched by neither.
 */
export function routerRules(): readonly RouterRule[] {
  const source = eventRulePattern().source;
  return [
    {
      id: "ToRouterFair",
      description:
        "Every voipbin.* event with a customer id to the router's fair queue, grouped by customer (one customer's burst does not delay another's events)",
      eventPattern: { source, detail: { customer_id: [{ wildcard: CUSTOMER_ID_SHAPE }] } },
      messageGroupIdPath: ROUTER_MESSAGE_GROUP_PATH,
    },
    {
      id: "ToRouterUngrouped",
      description:
        "Every other voipbin.* event (no usable customer id) to the router's queue without a group, for the router to park it with its reason",
      eventPattern: {
        source,
        detail: {
          customer_id: [
            { exists: false },
            { "anything-but": { wildcard: CUSTOMER_ID_SHAPE } },
            null,
            true,
            false,
            { numeric: [">", 0] },
            { numeric: ["<=", 0] },
          ],
        },
      },
    },
  ];
}
