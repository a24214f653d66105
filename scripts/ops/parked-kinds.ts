import { DEAD_LETTER_REASON_ATTRIBUTE } from "#shared/adapters/delivery-queue.ts";
import { parseDeliveryJob } from "#shared/domain/delivery/job.ts";
import { CodedError } from "#shared/domain/errors.ts";
import type { ParkedMessage } from "./parked-queue.ts";

/**
 * The kinds of parked work the ops CLI handles, each with how to read its messages and how to send
 * its work on again ("redrive"):
 * - dead-letters: delivery jobs that exhausted their schedule; redriven through the delivery log's
 *   manual retry (the same use case as `POST /v1/deliveries/{id}/retry`), which keeps the delivery
 *   id and webhook-id and allows one live job per delivery;
 * - unroutable: events the router parked with a reason; redriven by invoking the router with the
 *   original event (after the catalogue or the publisher changed); one still unroutable is parked
 *   again by the router, with its current reason;
 * - router-failed: events the router failed on after its retries: the router queue's dead letters,
 *   whose body is the original event (docs/delivery.md, "Fair routing"); records written by an
 *   earlier version, Lambda's on-failure records of asynchronous invocations, carry it as
 *   `requestPayload` and are read as well;
 * - ingest-dlq: events EventBridge could not hand to the router; the body is the original event.
 *
 * Events are always replayed by invoking the router with the original event, never by PutEvents:
 * PutEvents would give the event a new id (an entry has no id field; EventBridge API Reference,
 * PutEventsRequestEntry), hence new webhook-ids, so receivers would get duplicates they cannot detect
 * and deliveries that had succeeded would be sent again. With the original id every webhook-id is the
 * same, and the delivery function skips jobs whose delivery already succeeded (effectively once).
 */
export type ParkedKind = "dead-letters" | "unroutable" | "router-failed" | "ingest-dlq";

export const PARKED_KINDS: readonly ParkedKind[] = [
  "dead-letters",
  "unroutable",
  "router-failed",
  "ingest-dlq",
];

/** One message as a row of `list` (and a JSON line of `list --json`). */
export interface Summary {
  readonly message_id: string;
  readonly sent_at: string | null;
  readonly [column: string]: string | number | null;
}

/** What redrive does with one message. */
export type RedrivePlan =
  | {
      readonly kind: "retry-delivery";
      readonly customerId: string;
      readonly deliveryId: string;
      readonly what: string;
    }
  | {
      readonly kind: "invoke-router";
      readonly event: unknown;
      readonly eventId: string | null;
      readonly what: string;
    }
  | { readonly kind: "unreadable"; readonly problem: string };

interface EventFields {
  readonly event_id: string | null;
  readonly event_type: string | null;
  readonly customer_id: string | null;
}

function eventFields(event: unknown): EventFields {
  const e = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
  const detail = (typeof e.detail === "object" && e.detail !== null ? e.detail : {}) as Record<
    string,
    unknown
  >;
  const text = (value: unknown) => (typeof value === "string" ? value : null);
  return { event_id: text(e.id), event_type: text(e["detail-type"]), customer_id: text(detail.customer_id) };
}

function json(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * A router-failed message's event: the body itself (a dead letter of the router queue), or the
 * `requestPayload` of Lambda's on-failure record (an asynchronous invocation that failed).
 */
function routerFailedEvent(parsed: Record<string, unknown>): unknown {
  return "requestPayload" in parsed && "requestContext" in parsed ? parsed.requestPayload : parsed;
}

/** The original event a message of this kind carries (undefined for dead letters and unreadable bodies). */
export function originalEvent(kind: ParkedKind, body: string): unknown {
  const parsed = json(body) as Record<string, unknown> | undefined;
  if (parsed === undefined || typeof parsed !== "object" || parsed === null) return undefined;
  switch (kind) {
    case "unroutable":
      return parsed.event;
    case "router-failed":
      return routerFailedEvent(parsed);
    case "ingest-dlq":
      return parsed;
    case "dead-letters":
      return undefined;
  }
}

export function summarize(kind: ParkedKind, message: ParkedMessage): Summary {
  const base = { message_id: message.messageId, sent_at: message.sentAt?.toISOString() ?? null };
  const parsed = json(message.body) as Record<string, unknown> | undefined;
  switch (kind) {
    case "dead-letters": {
      try {
        const job = parseDeliveryJob(message.body);
        return {
          ...base,
          delivery_id: job.delivery_id,
          webhook_id: job.webhook_id,
          customer_id: job.customer_id,
          subscription_id: job.subscription_id,
          event_type: job.event_type,
          // Our code names why it dead-lettered a job; a job SQS's backstop redrive moved has none.
          reason: message.attributes[DEAD_LETTER_REASON_ATTRIBUTE] ?? "backstop (maxReceiveCount)",
        };
      } catch (error) {
        return { ...base, problem: error instanceof Error ? error.message : String(error) };
      }
    }
    case "unroutable":
      return {
        ...base,
        reason: typeof parsed?.reason === "string" ? parsed.reason : null,
        ...eventFields(parsed?.event),
      };
    case "router-failed": {
      const response = (parsed?.responsePayload ?? {}) as Record<string, unknown>;
      return {
        ...base,
        ...eventFields(parsed === undefined ? undefined : routerFailedEvent(parsed)),
        error:
          [response.errorType, response.errorMessage].filter((p) => typeof p === "string").join(": ") || null,
      };
    }
    case "ingest-dlq":
      return {
        ...base,
        ...eventFields(parsed),
        error:
          [message.attributes.ERROR_CODE, message.attributes.ERROR_MESSAGE].filter(Boolean).join(": ") ||
          null,
      };
  }
}

export function redrivePlan(kind: ParkedKind, message: ParkedMessage): RedrivePlan {
  if (kind === "dead-letters") {
    try {
      const job = parseDeliveryJob(message.body);
      return {
        kind: "retry-delivery",
        customerId: job.customer_id,
        deliveryId: job.delivery_id,
        what: `retry delivery ${job.delivery_id} (${job.webhook_id}) to subscription ${job.subscription_id}`,
      };
    } catch (error) {
      return { kind: "unreadable", problem: error instanceof Error ? error.message : String(error) };
    }
  }
  const event = originalEvent(kind, message.body);
  if (event === undefined || event === null) {
    return { kind: "unreadable", problem: "the message carries no event" };
  }
  const { event_id, event_type } = eventFields(event);
  return {
    kind: "invoke-router",
    event,
    eventId: event_id,
    what: `invoke the router with event ${event_id ?? "(no id)"} (${event_type ?? "no type"})`,
  };
}

/** An operator-facing one-liner for an error (its stable code when it has one; never a stack). */
export function describeError(error: unknown): string {
  if (error instanceof CodedError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
