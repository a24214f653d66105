import * as z from "zod/mini";
import { InvalidDeliveryJobError } from "../errors.ts";
import { uuidString } from "../events/schemas.ts";
import { sqsSafeJson } from "../json.ts";
import { SUBSCRIPTION_METHODS } from "../subscriptions/subscription.ts";

/**
 * One delivery job on the queue: everything the delivery function needs to send one event to one
 * subscription — except the secrets and the endpoint, which are read fresh from the table when the
 * job runs, so that rotation, edits and deletion take effect on jobs already queued.
 */
export const deliveryJobSchema = z.object({
  v: z.literal(1),
  delivery_id: uuidString,
  webhook_id: z.string().check(z.regex(/^msg_[A-Za-z0-9]{8,64}$/)),
  subscription_id: uuidString,
  customer_id: uuidString,
  event_id: z.string().check(z.minLength(1), z.maxLength(256)),
  event_type: z.string().check(z.minLength(1), z.maxLength(256)),
  /** The exact body to send, already serialised, so every attempt sends the same bytes. */
  payload: z.string(),
  /**
   * Set on manual retries and recoveries: a delivery that succeeded before this instant is sent again;
   * one that succeeded at or after it (a duplicate of this very retry) is not.
   */
  redeliver_after: z.optional(z.iso.datetime({ offset: true })),
  /**
   * Set by a manual retry or a recovery: names this job as the delivery's only live job (the
   * record's `live_job`). A scheduled retry of the chain it replaced sees another token and stops.
   * A job that fair delivery moves to the slow lane (a new SQS message) carries the identity it had,
   * `msg:<its first message id>` for a router job, so that it stays the live one.
   */
  token: z.optional(z.string().check(z.regex(/^(msg:)?[A-Za-z0-9-]{1,64}$/))),
  /**
   * Shadow mode (PRODUCT §11): the event came with `Detail.delivery_mode: "shadow"`. The job is signed
   * and recorded in the shadow log as it would be sent; no request leaves the system.
   */
  shadow: z.optional(z.literal(true)),
  /**
   * Sent by `POST /v1/subscriptions/{id}/test` (PRODUCT §12): every attempt carries the header
   * TEST_EVENT_HEADER, so that a receiver can tell a sample from a real event of the same type.
   */
  test: z.optional(z.literal(true)),
  /**
   * An activeflow destination's job (PRODUCT §11): sent to this URL and method instead of the
   * subscription's, signed with the customer's managed legacy subscription's secret and sent with its
   * profile (that subscription is read when the job runs). `subscription_id` is the destination's id.
   */
  destination: z.optional(
    z.object({
      kind: z.literal("activeflow"),
      activeflow_id: uuidString,
      url: z.string().check(z.minLength(1), z.maxLength(2048)),
      method: z.enum(SUBSCRIPTION_METHODS),
    }),
  ),
});

/** Marks every attempt of a test event (docs/api.md, "POST /v1/subscriptions/{id}/test"). */
export const TEST_EVENT_HEADER = "x-voipbin-test";

export type DeliveryJob = z.output<typeof deliveryJobSchema>;

export function parseDeliveryJob(body: string): DeliveryJob {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidDeliveryJobError("delivery job is not JSON");
  }
  const result = deliveryJobSchema.safeParse(json);
  if (!result.success) {
    throw new InvalidDeliveryJobError(
      `invalid delivery job: ${result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return result.data;
}

export function serializeDeliveryJob(job: DeliveryJob): string {
  return sqsSafeJson(job);
}
