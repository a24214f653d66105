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
  readonly description: string;
}

export const EVENT_CATALOGUE = [
  // call: a single call leg, inbound or outbound, through its lifecycle
  {
    type: "call_created",
    resource: "call",
    description: "A call was created (inbound arrival or outbound origination), before any dialing.",
  },
  {
    type: "call_dialing",
    resource: "call",
    description: "An outgoing call is being dialed towards its destination.",
  },
  {
    type: "call_ringing",
    resource: "call",
    description: "The far end of the call is ringing (early media or ringback received).",
  },
  {
    type: "call_progressing",
    resource: "call",
    description: "The call was answered and media is flowing; the flow's actions are executing.",
  },
  {
    type: "call_terminating",
    resource: "call",
    description: "Hangup of an answered call was requested and the call is being torn down.",
  },
  {
    type: "call_canceling",
    resource: "call",
    description: "A call that was never answered is being cancelled before it connects.",
  },
  {
    type: "call_updated",
    resource: "call",
    description: "A call's details changed (current action, recording, mute direction, owner...).",
  },
  {
    type: "call_hangup",
    resource: "call",
    description: "The call ended; hangup_by and hangup_reason say who ended it and why.",
  },
  {
    type: "call_deleted",
    resource: "call",
    description: "A finished call record was deleted.",
  },

  // groupcall: one call ringing several destinations (ring-all or one by one)
  {
    type: "groupcall_created",
    resource: "groupcall",
    description: "A group call was created to ring several destinations at once or in sequence.",
  },
  {
    type: "groupcall_progressing",
    resource: "groupcall",
    description: "A destination of the group call answered; the remaining legs are released.",
  },
  {
    type: "groupcall_hangup",
    resource: "groupcall",
    description: "The group call ended: the answered leg hung up or no destination answered.",
  },
  {
    type: "groupcall_deleted",
    resource: "groupcall",
    description: "A group call record was deleted.",
  },

  // recording
  {
    type: "recording_started",
    resource: "recording",
    description: "Recording of a call or conference started.",
  },
  {
    type: "recording_finished",
    resource: "recording",
    description: "A recording stopped and its media file is ready to download.",
  },

  // conference: a multi-party bridge
  {
    type: "conference_created",
    resource: "conference",
    description: "A conference (multi-party bridge) was created.",
  },
  {
    type: "conference_updated",
    resource: "conference",
    description: "A conference changed: participants joined or left, or its status or settings changed.",
  },
  {
    type: "conference_deleted",
    resource: "conference",
    description: "A conference was terminated and deleted.",
  },

  // queuecall: a call waiting in, and being served by, an agent queue
  {
    type: "queuecall_created",
    resource: "queuecall",
    description: "A call entered an agent queue.",
  },
  {
    type: "queuecall_waiting",
    resource: "queuecall",
    description: "A queued call is waiting for an available agent.",
  },
  {
    type: "queuecall_connecting",
    resource: "queuecall",
    description: "An agent was selected and the queued call is being connected to them.",
  },
  {
    type: "queuecall_serviced",
    resource: "queuecall",
    description: "The queued call was connected to an agent and is being served.",
  },
  {
    type: "queuecall_done",
    resource: "queuecall",
    description: "Service of the queued call by an agent finished, with waiting and service durations.",
  },
  {
    type: "queuecall_abandoned",
    resource: "queuecall",
    description: "The caller left the queue (hung up or timed out) before an agent served the call.",
  },
  {
    type: "queuecall_deleted",
    resource: "queuecall",
    description: "A queue call record was deleted.",
  },

  // agent: a human agent who answers queue calls
  {
    type: "agent_created",
    resource: "agent",
    description: "An agent (a person who answers queue calls and chats) was created.",
  },
  {
    type: "agent_updated",
    resource: "agent",
    description: "An agent's profile, addresses, tags or permissions changed.",
  },
  {
    type: "agent_deleted",
    resource: "agent",
    description: "An agent was deleted.",
  },
  {
    type: "agent_status_updated",
    resource: "agent",
    description: "An agent's availability changed (available, away, busy, ringing, offline).",
  },

  // message: SMS/MMS
  {
    type: "message_created",
    resource: "message",
    description: "An SMS/MMS message was sent or received.",
  },
  {
    type: "message_updated",
    resource: "message",
    description: "An SMS/MMS message changed, e.g. its per-target delivery status.",
  },
  {
    type: "message_deleted",
    resource: "message",
    description: "An SMS/MMS message record was deleted.",
  },

  // activeflow: a running instance of a flow
  {
    type: "activeflow_created",
    resource: "activeflow",
    description: "A flow started executing for a call, message or API request (an activeflow).",
  },
  {
    type: "activeflow_updated",
    resource: "activeflow",
    description: "An activeflow moved to another action or its variables or status changed.",
  },
  {
    type: "activeflow_deleted",
    resource: "activeflow",
    description: "An activeflow ended and was deleted.",
  },

  // transcribe: speech-to-text sessions and their results
  {
    type: "transcribe_created",
    resource: "transcribe",
    description: "A speech-to-text session was created for a call, conference or recording.",
  },
  {
    type: "transcribe_progressing",
    resource: "transcribe",
    description: "A transcription session is running and producing transcripts.",
  },
  {
    type: "transcribe_done",
    resource: "transcribe",
    description: "A transcription session finished.",
  },
  {
    type: "transcript_created",
    resource: "transcribe",
    description: "A finalized transcript segment (speaker direction and text) was produced.",
  },
  {
    type: "transcribe_speech_started",
    resource: "transcribe",
    description: "Real-time transcription detected that a speaker started talking.",
  },
  {
    type: "transcribe_speech_interim",
    resource: "transcribe",
    description: "A partial, not yet final transcript of ongoing speech (real-time transcription).",
  },
  {
    type: "transcribe_speech_ended",
    resource: "transcribe",
    description: "Real-time transcription detected that the speaker stopped talking.",
  },

  // campaign: automated outbound calling/messaging over an outdial list
  {
    type: "campaign_created",
    resource: "campaign",
    description: "An outbound campaign (automated calls or messages over an outdial list) was created.",
  },
  {
    type: "campaign_updated",
    resource: "campaign",
    description: "A campaign's settings changed (flow, outdial list, queue, dialing plan...).",
  },
  {
    type: "campaign_deleted",
    resource: "campaign",
    description: "A campaign was deleted.",
  },
  {
    type: "campaign_status_run",
    resource: "campaign",
    description: "A campaign started running and is placing calls or sending messages.",
  },
  {
    type: "campaign_status_stopping",
    resource: "campaign",
    description: "A campaign was asked to stop and is waiting for its in-flight calls to finish.",
  },
  {
    type: "campaign_status_stop",
    resource: "campaign",
    description: "A campaign stopped: it placed no further calls or messages.",
  },
  {
    type: "campaigncall_created",
    resource: "campaign",
    description: "A campaign placed a call or message to one outdial target.",
  },
  {
    type: "campaigncall_updated",
    resource: "campaign",
    description: "A campaign call's status or result changed.",
  },
  {
    type: "campaigncall_deleted",
    resource: "campaign",
    description: "A campaign call record was deleted.",
  },

  // outdial: the target lists campaigns dial
  {
    type: "outdial_created",
    resource: "outdial",
    description: "An outdial (a list of targets for campaigns to contact) was created.",
  },
  {
    type: "outdial_updated",
    resource: "outdial",
    description: "An outdial's details or targets changed.",
  },
  {
    type: "outdial_deleted",
    resource: "outdial",
    description: "An outdial was deleted.",
  },

  // conversation: omnichannel messaging threads and the channel accounts behind them
  {
    type: "conversation_created",
    resource: "conversation",
    description: "A conversation (a messaging thread on a channel such as LINE or SMS) was started.",
  },
  {
    type: "conversation_updated",
    resource: "conversation",
    description: "A conversation's details or participants changed.",
  },
  {
    type: "conversation_message_created",
    resource: "conversation",
    description: "A message was sent or received in a conversation.",
  },
  {
    type: "conversation_message_updated",
    resource: "conversation",
    description: "A conversation message changed, e.g. its delivery status.",
  },
  {
    type: "conversation_message_deleted",
    resource: "conversation",
    description: "A conversation message was deleted.",
  },
  {
    type: "account_created",
    resource: "conversation",
    description: "A conversation channel account (credentials for a messaging provider) was added.",
  },
  {
    type: "account_updated",
    resource: "conversation",
    description: "A conversation channel account's settings or credentials changed.",
  },
  {
    type: "account_deleted",
    resource: "conversation",
    description: "A conversation channel account was removed.",
  },

  // email
  {
    type: "email_created",
    resource: "email",
    description: "An email was sent or queued for sending.",
  },
  {
    type: "email_updated",
    resource: "email",
    description: "An email's delivery status changed (delivered, bounced, opened...).",
  },
  {
    type: "email_deleted",
    resource: "email",
    description: "An email record was deleted.",
  },

  // webchat: the embeddable web chat widget
  {
    type: "webchat_message_created",
    resource: "webchat",
    description: "A web chat visitor or agent sent a message in a web chat session.",
  },
  {
    type: "webchat_session_ended",
    resource: "webchat",
    description: "A web chat session was closed by the visitor, an agent or a timeout.",
  },

  // number: phone numbers the customer owns
  {
    type: "number_created",
    resource: "number",
    description: "A phone number was purchased or registered to the account.",
  },
  {
    type: "number_updated",
    resource: "number",
    description: "A phone number's settings changed, e.g. its call or message flow.",
  },
  {
    type: "number_deleted",
    resource: "number",
    description: "A phone number was released from the account.",
  },

  // ai: AI agent configurations, AI-handled calls, their messages, summaries and teams
  {
    type: "ai_created",
    resource: "ai",
    description: "An AI agent configuration (model, prompt, voice, tools) was created.",
  },
  {
    type: "ai_updated",
    resource: "ai",
    description: "An AI agent configuration changed.",
  },
  {
    type: "ai_deleted",
    resource: "ai",
    description: "An AI agent configuration was deleted.",
  },
  {
    type: "aicall_status_initializing",
    resource: "ai",
    description: "An AI call (an AI agent talking on a call or chat) is initializing its session.",
  },
  {
    type: "aicall_status_progressing",
    resource: "ai",
    description: "An AI call is live: the AI agent is conversing with the party.",
  },
  {
    type: "aicall_status_pausing",
    resource: "ai",
    description: "An AI call was paused, e.g. while a human takes over.",
  },
  {
    type: "aicall_status_resuming",
    resource: "ai",
    description: "A paused AI call is resuming and the AI agent takes the conversation back.",
  },
  {
    type: "aicall_status_terminating",
    resource: "ai",
    description: "An AI call is ending and its session is being closed.",
  },
  {
    type: "aicall_status_terminated",
    resource: "ai",
    description: "An AI call ended.",
  },
  {
    type: "aimessage_created",
    resource: "ai",
    description: "A complete message (user utterance, AI reply or tool call) was added to an AI call.",
  },
  {
    type: "aimessage_intermediate",
    resource: "ai",
    description: "A partial, still-streaming AI reply in an AI call.",
  },
  {
    type: "summary_created",
    resource: "ai",
    description: "An AI-generated summary of a call, conference, transcript or AI call was requested.",
  },
  {
    type: "summary_updated",
    resource: "ai",
    description: "An AI summary changed, typically when its generated text became available.",
  },
  {
    type: "summary_deleted",
    resource: "ai",
    description: "An AI summary was deleted.",
  },
  {
    type: "team_created",
    resource: "ai",
    description: "An AI team (several AI agents that hand conversations to each other) was created.",
  },
  {
    type: "team_updated",
    resource: "ai",
    description: "An AI team's members or routing changed.",
  },
  {
    type: "team_deleted",
    resource: "ai",
    description: "An AI team was deleted.",
  },

  // talk: internal chat rooms between agents
  {
    type: "chat_created",
    resource: "talk",
    description: "A talk chat room (messaging between agents) was created.",
  },
  {
    type: "chat_updated",
    resource: "talk",
    description: "A talk chat room's name or settings changed.",
  },
  {
    type: "chat_deleted",
    resource: "talk",
    description: "A talk chat room was deleted.",
  },
  {
    type: "chatmessage_created",
    resource: "talk",
    description: "A message was posted in a talk chat room.",
  },
  {
    type: "chatmessage_deleted",
    resource: "talk",
    description: "A message was removed from a talk chat room.",
  },
  {
    type: "chatmessage_reaction_updated",
    resource: "talk",
    description: "Reactions on a talk chat message were added or removed.",
  },
  {
    type: "chatparticipant_added",
    resource: "talk",
    description: "A participant joined or was added to a talk chat room.",
  },
  {
    type: "chatparticipant_removed",
    resource: "talk",
    description: "A participant left or was removed from a talk chat room.",
  },

  // webhook: this service's own events
  {
    type: "webhook_test",
    resource: "webhook",
    description:
      "A test event sent on request through the API to one subscription only, to check the endpoint.",
  },
  {
    type: "webhook_subscription_disabled",
    resource: "webhook",
    description:
      "The system disabled a webhook subscription (endpoint gone or failing); data is the subscription without its secret, and the reason.",
  },
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

export function isResource(s: string): s is EventResource {
  return RESOURCE_SET.has(s);
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
