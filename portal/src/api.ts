/**
 * The portal's only way to the system: the public /v1 API on this origin, with the customer's key
 * in the Authorization header (never in a URL).
 */
import type * as Api from "./api-types.ts";
import { currentSession, endSession } from "./session.ts";

/** The API's types, generated from docs/openapi.json (npm run portal:types; CI checks they are current). */
export type ErrorDetail = Api.Error["error"]["details"][number];
export type Subscription = Api.Subscription;
/** Where an activeflow's own events also go (PRODUCT §11): kept by VoIPBIN's flow-manager, read-only. */
export type ActiveflowDestination = Api.ActiveflowDestination;
export type Attempt = Api.DeliveryAttempt;
export type Delivery = Api.Delivery;
export type DeliveryTiming = Api.DeliveryTiming;
export type EventType = Api.EventType;
export type Stats = Api.SubscriptionStats;
export type PortalSession = Api.PortalSession;

/** An answer other than success, in the API's error shape (or a network failure: status 0). */
export class ApiFailure extends Error {
  override readonly name = "ApiFailure";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
  }
}

export interface Page<T> {
  readonly items: T[];
  readonly next_cursor: string | null;
}

type Method = "GET" | "POST" | "PATCH" | "DELETE";

async function send<T>(method: Method, path: string, body?: unknown, key?: string): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const credential = key ?? currentSession()?.key;
  if (credential) headers.authorization = `Bearer ${credential}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiFailure(0, "NETWORK", "The API could not be reached. Check your connection and try again.");
  }
  if (response.status === 204) return undefined as T;
  let parsed: unknown;
  try {
    parsed = await response.json();
  } catch {
    parsed = undefined;
  }
  if (response.ok) return parsed as T;
  const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  const failure = new ApiFailure(
    response.status,
    typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
    typeof error?.message === "string" ? error.message : `The API answered ${response.status}.`,
    Array.isArray(error?.details) ? (error.details as ErrorDetail[]) : [],
  );
  // A session whose key expired or was revoked is over: back to sign-in, saying why.
  if (response.status === 401 && key === undefined && failure.code === "INVALID_CREDENTIALS") {
    endSession("Your session has ended (the access key expired or was revoked). Sign in again.");
  }
  throw failure;
}

const enc = encodeURIComponent;

export const api = {
  eventTypes: (key?: string) => send<Page<EventType>>("GET", "/v1/event-types", undefined, key),
  listSubscriptions: (cursor?: string) =>
    send<Page<Subscription>>(
      "GET",
      `/v1/subscriptions?limit=100${cursor === undefined ? "" : `&cursor=${enc(cursor)}`}`,
    ),
  listActiveflowDestinations: (cursor?: string) =>
    send<Page<ActiveflowDestination>>(
      "GET",
      `/v1/activeflow-destinations?limit=100${cursor === undefined ? "" : `&cursor=${enc(cursor)}`}`,
    ),
  getSubscription: (id: string) => send<Subscription>("GET", `/v1/subscriptions/${enc(id)}`),
  createSubscription: (body: Record<string, unknown>) =>
    send<Subscription & { secret: string }>("POST", "/v1/subscriptions", body),
  updateSubscription: (id: string, body: Record<string, unknown>) =>
    send<Subscription>("PATCH", `/v1/subscriptions/${enc(id)}`, body),
  deleteSubscription: (id: string) => send<void>("DELETE", `/v1/subscriptions/${enc(id)}`),
  getSecret: (id: string) => send<{ secret: string }>("GET", `/v1/subscriptions/${enc(id)}/secret`),
  rotateSecret: (id: string) =>
    send<{ secret: string }>("POST", `/v1/subscriptions/${enc(id)}/secret/rotate`),
  sendTest: (id: string) => send<{ delivery_id: string }>("POST", `/v1/subscriptions/${enc(id)}/test`),
  stats: (id: string, window: "24h" | "7d") =>
    send<Stats>("GET", `/v1/subscriptions/${enc(id)}/stats?window=${window}`),
  listDeliveries: (id: string, options: { status?: string; cursor?: string; limit?: number }) => {
    const query = new URLSearchParams({ limit: String(options.limit ?? 20) });
    if (options.status) query.set("status", options.status);
    if (options.cursor) query.set("cursor", options.cursor);
    return send<Page<Delivery>>("GET", `/v1/subscriptions/${enc(id)}/deliveries?${query}`);
  },
  recover: (id: string, since: string) =>
    send<{ count: number; complete: boolean; next_since: string | null }>(
      "POST",
      `/v1/subscriptions/${enc(id)}/recover`,
      { since },
    ),
  getDelivery: (id: string) => send<Delivery>("GET", `/v1/deliveries/${enc(id)}`),
  retryDelivery: (id: string) => send<{ delivery_id: string }>("POST", `/v1/deliveries/${enc(id)}/retry`),
  eventDeliveries: (eventId: string) => send<Page<Delivery>>("GET", `/v1/events/${enc(eventId)}/deliveries`),
  exchangePortalLink: (token: string) => send<PortalSession>("POST", "/v1/portal/sessions", { token }, ""),
};

/** Every item of a paged list, following `next_cursor` to the end. */
async function allPages<T>(list: (cursor?: string) => Promise<Page<T>>): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    all.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return all;
}

/** Every subscription of the customer (the API pages them; a customer has at most a few dozen). */
export function allSubscriptions(): Promise<Subscription[]> {
  return allPages(api.listSubscriptions);
}

/**
 * The first pages of the customer's live activeflow destinations: a busy customer may have thousands,
 * so the portal shows at most `ACTIVEFLOW_DESTINATIONS_SHOWN` and says when there are more.
 */
export const ACTIVEFLOW_DESTINATIONS_SHOWN = 100;
export async function someActiveflowDestinations(): Promise<{
  items: ActiveflowDestination[];
  more: boolean;
}> {
  const page = await api.listActiveflowDestinations();
  return { items: page.items.slice(0, ACTIVEFLOW_DESTINATIONS_SHOWN), more: page.next_cursor !== null };
}
