/**
 * What erasure (PRODUCT §12, issue 24) counts as one resource's data: an event whose `data.id` or
 * `data.activeflow_id` is the resource id (a call's own events, and every event of an activeflow).
 * Pure: the service and the operator CLI apply it to payload items and parked queue messages alike.
 */

/** The fields of an event's `data` that name the resources it is about. */
export const RESOURCE_FIELDS = ["id", "activeflow_id"] as const;

/** Whether an event's `data` is about `resourceId` (see the module comment). */
export function dataNamesResource(data: unknown, resourceId: string): boolean {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return false;
  const record = data as Record<string, unknown>;
  return RESOURCE_FIELDS.some((field) => Object.hasOwn(record, field) && record[field] === resourceId);
}

/**
 * The `data` of a webhook body (VoIPBIN's envelope `{"type", "data"}`), or undefined when the body is
 * not one (then it names no resource: erasing by resource never guesses).
 */
export function dataOfBody(body: string): unknown {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null ? (parsed as { data?: unknown }).data : undefined;
  } catch {
    return undefined;
  }
}

/** What one erasure removed (or, in a dry run, would remove), by kind of stored thing. */
export interface ErasureCounts {
  /** Subscriptions, with their counter and quota windows (customer erasure only). */
  subscriptions: number;
  /** Delivery records (heads). */
  deliveries: number;
  /** Attempt items of those deliveries. */
  attempts: number;
  /** Event payloads (the bodies). */
  payloads: number;
  /** Shadow-mode records. */
  shadow: number;
  /** Activeflow destinations. */
  activeflowDestinations: number;
  /** Access keys and their id pointers, portal links (customer erasure only). */
  credentials: number;
  /** Other items of the customer (subscription counter, quota windows, the managed control item's data). */
  other: number;
  /** Messages deleted from parked queues (dead letters, backstop, unroutable, router failures). */
  queueMessages: number;
}

export const emptyErasureCounts = (): ErasureCounts => ({
  subscriptions: 0,
  deliveries: 0,
  attempts: 0,
  payloads: 0,
  shadow: 0,
  activeflowDestinations: 0,
  credentials: 0,
  other: 0,
  queueMessages: 0,
});
