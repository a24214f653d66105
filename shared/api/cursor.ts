/**
 * Pagination cursors: opaque to clients, strict on the way back in. A cursor is the position of the
 * last item of a page, base64url-encoded with a version and the collection it belongs to. No secret is
 * needed to make it tamper-safe: the collection is fixed by the caller's identity (its own customer
 * partition, or a subscription it was just checked to own), and a cursor naming another collection
 * is refused, so an edited cursor can at most skip within the caller's own data. Garbage is a 400.
 */
import * as z from "zod/mini";
import type { DeliveryLogPosition } from "../domain/delivery/delivery.ts";
import { isCanonicalUuid } from "../domain/ids.ts";
import { validationFailed } from "./errors.ts";

const MAX_CURSOR_LENGTH = 512;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const subscriptionsCursor = z.strictObject({
  v: z.literal(1),
  c: z.string().check(z.refine(isCanonicalUuid)),
  after: z.string().check(z.refine(isCanonicalUuid)),
});

/** `k` keeps it apart from a subscriptions cursor of the same customer (both are strict objects). */
const activeflowDestinationsCursor = z.strictObject({
  v: z.literal(1),
  k: z.literal("activeflows"),
  c: z.string().check(z.refine(isCanonicalUuid)),
  after: z.string().check(z.refine(isCanonicalUuid)),
});

const deliveriesCursor = z.strictObject({
  v: z.literal(1),
  s: z.string().check(z.refine(isCanonicalUuid)),
  at: z.string().check(z.regex(ISO_INSTANT)),
  id: z.string().check(z.refine(isCanonicalUuid)),
});

function encode(payload: object): string {
  return Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
}

function decode<S extends z.ZodMiniType>(cursor: string, schema: S): z.output<S> {
  const invalid = validationFailed([{ path: "cursor", message: "is not a cursor this list returned" }]);
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid;
  }
  const parsed = z.safeParse(schema, json);
  if (!parsed.success) throw invalid;
  return parsed.data;
}

export function encodeSubscriptionsCursor(customerId: string, afterId: string): string {
  return encode({ v: 1, c: customerId, after: afterId });
}

/** The subscription id a page starts after; the cursor must have been issued to this customer. */
export function decodeSubscriptionsCursor(cursor: string, customerId: string): string {
  const payload = decode(cursor, subscriptionsCursor);
  if (payload.c !== customerId) {
    throw validationFailed([{ path: "cursor", message: "belongs to another list" }]);
  }
  return payload.after;
}

export function encodeActiveflowDestinationsCursor(customerId: string, afterActiveflowId: string): string {
  return encode({ v: 1, k: "activeflows", c: customerId, after: afterActiveflowId });
}

/** The activeflow id a page starts after; the cursor must have been issued to this customer. */
export function decodeActiveflowDestinationsCursor(cursor: string, customerId: string): string {
  const payload = decode(cursor, activeflowDestinationsCursor);
  if (payload.c !== customerId) {
    throw validationFailed([{ path: "cursor", message: "belongs to another list" }]);
  }
  return payload.after;
}

export function encodeDeliveriesCursor(subscriptionId: string, position: DeliveryLogPosition): string {
  return encode({ v: 1, s: subscriptionId, at: position.created_at, id: position.id });
}

/** The log position a page starts after; the cursor must come from this subscription's log. */
export function decodeDeliveriesCursor(cursor: string, subscriptionId: string): DeliveryLogPosition {
  const payload = decode(cursor, deliveriesCursor);
  if (payload.s !== subscriptionId) {
    throw validationFailed([{ path: "cursor", message: "belongs to another list" }]);
  }
  return { created_at: payload.at, id: payload.id };
}
