/**
 * The warnings a customer gets before events are lost (PRODUCT §12): operational events the delivery
 * worker puts on the bus beside `webhook_subscription_disabled`, routed like any VoIPBIN event.
 *
 * The failing streak they speak of is the one auto-disable already keeps (the subscription's
 * `failing_since`): `webhook_endpoint_failing` is put by the delivery that starts the streak (the
 * conditional write that sets `failing_since` succeeds once per streak), `webhook_endpoint_recovered`
 * by the delivery that ends it (the conditional write that removes it). No write is added for them.
 */

/** The three warning types, in the order a streak meets them. */
export const OPERATIONAL_WARNING_TYPES = [
  "webhook_endpoint_failing",
  "webhook_delivery_exhausted",
  "webhook_endpoint_recovered",
] as const;

/** The attempt that told us, as the delivery log shows it. */
export interface WarningAttempt {
  readonly at: string;
  readonly status_code: number | null;
  readonly error: string | null;
}

/** The subscription a warning is about (its secrets and header values are never in it). */
export interface WarningSubject {
  readonly subscription_id: string;
  readonly url: string;
  readonly description: string | null;
}

export interface EndpointFailingData extends WarningSubject {
  /** When the streak began: the first failed attempt since the last success. */
  readonly failing_since: string;
  /** When the subscription is disabled (`failing`) if no attempt succeeds before then. */
  readonly auto_disable_at: string;
  readonly delivery_id: string;
  readonly event_type: string;
  readonly last_attempt: WarningAttempt;
}

export interface DeliveryExhaustedData extends WarningSubject {
  readonly delivery_id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly webhook_id: string;
  /** Attempts of the chain that ran out (the schedule's count, or fewer after a manual retry's floor). */
  readonly attempts: number;
  readonly created_at: string;
  readonly last_attempt: WarningAttempt;
}

export interface EndpointRecoveredData extends WarningSubject {
  readonly failing_since: string;
  /** The attempt that succeeded and ended the streak. */
  readonly recovered_at: string;
  readonly failing_seconds: number;
}

export type OperationalWarning =
  | {
      readonly type: "webhook_endpoint_failing";
      readonly customerId: string;
      readonly data: EndpointFailingData;
    }
  | {
      readonly type: "webhook_delivery_exhausted";
      readonly customerId: string;
      readonly data: DeliveryExhaustedData;
    }
  | {
      readonly type: "webhook_endpoint_recovered";
      readonly customerId: string;
      readonly data: EndpointRecoveredData;
    };

/** `failing_since` plus the auto-disable window: when `failing` disables the subscription. */
export function autoDisableAt(failingSince: string, autoDisableAfterSeconds: number): string {
  return new Date(Date.parse(failingSince) + autoDisableAfterSeconds * 1000).toISOString();
}

export function failingSeconds(failingSince: string, recoveredAt: string): number {
  return Math.max(0, Math.round((Date.parse(recoveredAt) - Date.parse(failingSince)) / 1000));
}

const WARNING_TYPE_SET: ReadonlySet<string> = new Set(OPERATIONAL_WARNING_TYPES);

/**
 * The subscription an operational event is about, which never receives it (PRODUCT §12): a failing
 * endpoint would not get it anyway, and a recovered one already knows. null for every other event.
 */
export function warningSubjectOf(type: string, data: Readonly<Record<string, unknown>>): string | null {
  if (!WARNING_TYPE_SET.has(type)) return null;
  const id = data.subscription_id;
  return typeof id === "string" ? id : null;
}
