import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { EventBridgeEvent } from "aws-lambda";
import { CodedError } from "#shared/domain/errors.ts";
import { compileEventPattern, type EventPredicate } from "./event-pattern.ts";
import { LOCAL_ACCOUNT_ID } from "./lambda-runtime.ts";
import { readBody } from "./request-body.ts";

/**
 * A local EventBridge bus: the PutEvents API over AWS's JSON 1.1 protocol (what the SDK's
 * EventBridgeClient and `aws events put-events` speak), with EventBridge's validation and
 * per-entry results, and rules that hand each matching event to their target: PutEvents answers
 * once the target holds the event durably, without waiting for it to run, as EventBridge does.
 *
 * Validation follows what EventBridge answers (checked against responses recorded from AWS):
 * 1–10 entries and 256 KiB of entries per request fail the whole request (ValidationException);
 * a missing Source, DetailType or Detail fails its entry (InvalidArgument), a Detail that is not
 * a JSON object fails its entry (MalformedDetail), so does a Time outside years 1–9999 (InvalidArgument). An entry for a bus that does not exist is
 * accepted and dropped, as on AWS.
 */

/** PutEvents limits (EventBridge quotas). */
export const PUT_EVENTS_LIMITS = {
  maxEntries: 10,
  maxEntriesBytes: 256 * 1024,
  /** The whole HTTP body; larger requests cannot hold a valid PutEvents call. */
  maxBodyBytes: 1024 * 1024,
} as const;

const EVENT_BUS_NAME_PATTERN =
  /^(arn:aws[\w-]*:events:[a-z]{2}-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/.\-_A-Za-z0-9]+$/;
const TIME_ENTRY_BYTES = 14;

export type BusEvent = EventBridgeEvent<string, unknown>;

export interface EventRule {
  readonly name: string;
  /** The pattern exactly as given to the CDK rule. */
  readonly eventPattern: unknown;
  /**
   * Called once per matching event, with the event as JSON text (its detail as it was put); resolves
   * once the target has the event durably (EventBridge's own queue to the target), not once it ran.
   */
  readonly target: (event: BusEvent, eventJson: string) => Promise<void>;
}

export interface LocalEventBusOptions {
  readonly busName: string;
  readonly region: string;
  readonly accountId?: string;
  readonly rules: readonly EventRule[];
  /** An accepted entry that no rule takes: unknown bus, or no matching pattern. */
  readonly onDropped?: (event: BusEvent, reason: "unknown_bus" | "no_matching_rule", busName: string) => void;
}

export interface PutEventsRequestEntry {
  Time?: unknown;
  Source?: unknown;
  Resources?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  TraceHeader?: unknown;
}

export type PutEventsResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export interface PutEventsResponse {
  FailedEntryCount: number;
  Entries: PutEventsResultEntry[];
}

/** A request-level error, with the error type AWS's JSON protocol reports. */
export class EventBridgeApiError extends CodedError {
  override readonly name = "EventBridgeApiError";
  readonly code = "EVENTBRIDGE_API_ERROR";
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

interface CompiledRule {
  readonly rule: EventRule;
  readonly matches: EventPredicate;
}

export class LocalEventBus {
  readonly arn: string;
  private readonly accountId: string;
  private readonly rules: readonly CompiledRule[];

  constructor(private readonly options: LocalEventBusOptions) {
    this.accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
    this.arn = `arn:aws:events:${options.region}:${this.accountId}:event-bus/${options.busName}`;
    this.rules = options.rules.map((rule) => ({ rule, matches: compileEventPattern(rule.eventPattern) }));
  }

  /**
   * PutEvents: validates, hands every accepted event to the matching rules' targets, and answers per
   * entry once each target holds its event durably. An entry a target could not take fails with
   * EventBridge's retryable InternalFailure ("PutEventsResultEntry", EventBridge API Reference,
   * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html), so
   * that an accepted event is one that a crash cannot lose.
   */
  async putEvents(request: unknown): Promise<PutEventsResponse> {
    const entries = validateRequest(request);
    const now = new Date();
    // Every entry is checked before any is routed: an entry's failure is its own result, never a
    // request error after earlier entries were already handed over. "By default, if an individual
    // entry within a request fails, EventBridge continues processing the rest of the entries in the
    // request" (EventBridge User Guide, "Sending events with PutEvents", Handling failures).
    const checked = entries.map((entry) => ({ entry, problem: entryProblem(entry) }));
    const results = checked.map(
      ({ entry, problem }): PutEventsResultEntry | Promise<PutEventsResultEntry> => {
        if (problem) return problem;
        const event = this.envelope(entry, now);
        return this.route(
          event,
          envelopeJson(event, entry.Detail as string),
          typeof entry.EventBusName === "string" ? entry.EventBusName : "default",
        ).then(
          (): PutEventsResultEntry => ({ EventId: event.id }),
          (): PutEventsResultEntry => ({
            ErrorCode: "InternalFailure",
            ErrorMessage: "The event could not be handed to the rule's target; retry it.",
          }),
        );
      },
    );
    const settled = await Promise.all(results);
    return { FailedEntryCount: settled.filter((r) => "ErrorCode" in r).length, Entries: settled };
  }

  private envelope(entry: PutEventsRequestEntry, now: Date): BusEvent {
    // Key order as EventBridge delivers it.
    return {
      version: "0",
      id: randomUUID(),
      "detail-type": entry.DetailType as string,
      source: entry.Source as string,
      account: this.accountId,
      time: eventTime(entry.Time, now),
      region: this.options.region,
      resources: Array.isArray(entry.Resources) ? (entry.Resources as string[]) : [],
      detail: JSON.parse(entry.Detail as string) as unknown,
    };
  }

  private async route(event: BusEvent, eventJson: string, busNameOrArn: string): Promise<void> {
    if (busNameOrArn !== this.options.busName && busNameOrArn !== this.arn) {
      this.options.onDropped?.(event, "unknown_bus", busNameOrArn);
      return;
    }
    const handedOver: Promise<void>[] = [];
    for (const { rule, matches } of this.rules) {
      if (matches(event)) handedOver.push(rule.target(event, eventJson));
    }
    if (handedOver.length === 0) this.options.onDropped?.(event, "no_matching_rule", busNameOrArn);
    await Promise.all(handedOver);
  }
}

/**
 * The envelope as JSON text with the entry's Detail spliced in as it was put (detail is the last
 * key): JSON.stringify recurses once per level, and a Detail may nest as deep as 256 KiB allows.
 */
function envelopeJson(event: BusEvent, detailJson: string): string {
  const { detail: _detail, ...head } = event;
  return `${JSON.stringify(head).slice(0, -1)},"detail":${detailJson}}`;
}

function validateRequest(request: unknown): PutEventsRequestEntry[] {
  const entries = (request as { Entries?: unknown } | null)?.Entries;
  if (entries === undefined || entries === null) {
    throw validation("Value null at 'entries' failed to satisfy constraint: Member must not be null");
  }
  if (!Array.isArray(entries))
    throw new EventBridgeApiError("SerializationException", "Entries must be a list");
  if (entries.length < 1) {
    throw validation(
      "Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  }
  if (entries.length > PUT_EVENTS_LIMITS.maxEntries) {
    throw validation(
      `Value with ${entries.length} entries at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${PUT_EVENTS_LIMITS.maxEntries}`,
    );
  }
  const problems: string[] = [];
  let totalBytes = 0;
  entries.forEach((raw: unknown, i) => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new EventBridgeApiError("SerializationException", `Entry ${i + 1} is not a structure`);
    }
    const entry = raw as PutEventsRequestEntry;
    for (const field of ["Source", "DetailType", "Detail", "EventBusName", "TraceHeader"] as const) {
      const value = entry[field];
      if (value !== undefined && value !== null && typeof value !== "string") {
        throw new EventBridgeApiError("SerializationException", `Entry ${i + 1}: ${field} must be a string`);
      }
    }
    if (
      entry.Resources !== undefined &&
      entry.Resources !== null &&
      !(Array.isArray(entry.Resources) && entry.Resources.every((r) => typeof r === "string"))
    ) {
      throw new EventBridgeApiError(
        "SerializationException",
        `Entry ${i + 1}: Resources must be a list of strings`,
      );
    }
    if (typeof entry.EventBusName === "string" && !EVENT_BUS_NAME_PATTERN.test(entry.EventBusName)) {
      problems.push(
        `Value '${entry.EventBusName}' at 'entries.${i + 1}.member.eventBusName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${EVENT_BUS_NAME_PATTERN.source.slice(1, -1)}`,
      );
    }
    totalBytes += entrySize(entry);
  });
  if (problems.length > 0) {
    throw new EventBridgeApiError(
      "ValidationException",
      `${problems.length} validation error${problems.length > 1 ? "s" : ""} detected: ${problems.join("; ")}`,
    );
  }
  if (totalBytes > PUT_EVENTS_LIMITS.maxEntriesBytes) {
    throw new EventBridgeApiError(
      "ValidationException",
      "Total size of the entries in the request is over the limit.",
    );
  }
  return entries as PutEventsRequestEntry[];
}

function validation(message: string): EventBridgeApiError {
  return new EventBridgeApiError("ValidationException", `1 validation error detected: ${message}`);
}

/** The entry size as EventBridge documents it (Time counts 14 bytes; strings their UTF-8 length). */
export function entrySize(entry: PutEventsRequestEntry): number {
  const bytes = (value: unknown) => (typeof value === "string" ? Buffer.byteLength(value, "utf8") : 0);
  let size = entry.Time !== undefined && entry.Time !== null ? TIME_ENTRY_BYTES : 0;
  size += bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail);
  if (Array.isArray(entry.Resources)) for (const resource of entry.Resources) size += bytes(resource);
  return size;
}

function entryProblem(entry: PutEventsRequestEntry): PutEventsResultEntry | undefined {
  for (const field of ["Source", "DetailType", "Detail"] as const) {
    if (typeof entry[field] !== "string" || entry[field] === "") {
      return {
        ErrorCode: "InvalidArgument",
        ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
      };
    }
  }
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail as string);
  } catch {
    detail = undefined;
  }
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) {
    return { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." };
  }
  if (entry.Time !== undefined && entry.Time !== null && entryDate(entry.Time) === undefined) {
    return {
      ErrorCode: "InvalidArgument",
      ErrorMessage:
        "Parameter Time is not valid. Reason: Time must be a timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.",
    };
  }
  return undefined;
}

/**
 * An entry's Time as a date (epoch seconds in the JSON protocol; an RFC 3339 string tolerated), or
 * undefined when it is not one an event can carry: the envelope's `time` is RFC 3339 ("The time
 * stamp of the event, per RFC3339", PutEventsRequestEntry, EventBridge API Reference), whose year
 * has four digits (RFC 3339 §5.6, date-fullyear = 4DIGIT), so years 1–9999 only.
 */
function entryDate(time: unknown): Date | undefined {
  let date: Date | undefined;
  if (typeof time === "number" && Number.isFinite(time)) date = new Date(time * 1000);
  else if (typeof time === "string") date = new Date(time);
  if (date === undefined || Number.isNaN(date.getTime())) return undefined;
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 ? date : undefined;
}

/** The envelope's `time`: the entry's Time (checked by entryProblem) or now, to the second. */
function eventTime(time: unknown, now: Date): string {
  return `${(entryDate(time) ?? now).toISOString().slice(0, 19)}Z`;
}

const JSON_CONTENT_TYPE = "application/x-amz-json-1.1";

/** The HTTP side: AWS JSON 1.1 (`X-Amz-Target: AWSEvents.PutEvents`), any path, no signature check. */
export function createEventBridgeServer(bus: LocalEventBus): Server {
  return createServer(eventBridgeRequestListener(bus));
}

/** The PutEvents endpoint as a request listener (the local stack serves Lambda's Invoke API beside it). */
export function eventBridgeRequestListener(
  bus: LocalEventBus,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handleRequest(bus, req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        sendError(res, new EventBridgeApiError("InternalException", "internal error", 500));
      }
      res.destroy(error instanceof Error ? error : undefined);
    });
  };
}

async function handleRequest(bus: LocalEventBus, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req, PUT_EVENTS_LIMITS.maxBodyBytes);
  if (body === undefined) {
    sendError(
      res,
      new EventBridgeApiError(
        "ValidationException",
        "Total size of the entries in the request is over the limit.",
      ),
      { close: true },
    );
    return;
  }
  const target = req.headers["x-amz-target"];
  if (req.method !== "POST" || target !== "AWSEvents.PutEvents") {
    sendError(
      res,
      new EventBridgeApiError(
        "UnknownOperationException",
        `the local bus implements AWSEvents.PutEvents only (got ${req.method} ${String(target ?? "no X-Amz-Target")})`,
      ),
    );
    return;
  }
  let request: unknown;
  try {
    request = JSON.parse(body.toString("utf8") || "{}");
  } catch {
    sendError(res, new EventBridgeApiError("SerializationException", "the request body is not valid JSON"));
    return;
  }
  try {
    send(res, 200, await bus.putEvents(request));
  } catch (error) {
    if (error instanceof EventBridgeApiError) sendError(res, error);
    else throw error;
  }
}

function send(
  res: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    "content-type": JSON_CONTENT_TYPE,
    "content-length": Buffer.byteLength(body),
    "x-amzn-requestid": randomUUID(),
    ...headers,
  });
  res.end(body);
}

function sendError(res: ServerResponse, error: EventBridgeApiError, options: { close?: boolean } = {}): void {
  send(
    res,
    error.statusCode,
    { __type: error.type, message: error.message },
    { "x-amzn-errortype": error.type, ...(options.close ? { connection: "close" } : {}) },
  );
}
