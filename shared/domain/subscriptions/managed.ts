/**
 * Managed legacy subscriptions (PRODUCT §11): one per VoIPBIN customer, kept in step with the
 * customer's `webhook_uri` / `webhook_method` / `webhook_secret` by the customer-manager's control
 * events (and by the bulk import, which applies the very same rules so the two commute).
 *
 * Pure: parsing and validating a customer object, the order of its versions, the subscription's
 * deterministic id and the imported secret's `whsec_` form. Storage is in
 * shared/adapters/dynamodb/managed-subscriptions.ts.
 */
import { derivedUuid } from "../ids.ts";
import { MAX_URL_LENGTH, type SubscriptionMethod } from "./subscription.ts";

/** Where control events come from, and their types (never delivered as such: not in the catalogue). */
export const CUSTOMER_CONTROL_SOURCE = "voipbin.customer-manager";
export const CUSTOMER_CONTROL_TYPES = ["customer_created", "customer_updated", "customer_deleted"] as const;
export type CustomerControlType = (typeof CUSTOMER_CONTROL_TYPES)[number];

/** Who keeps a managed subscription in step: what the API and the portal show in `managed_by`. */
export const MANAGED_BY = "voipbin.customer-manager";

/** The unroutable reason of a malformed control event (stable: operators filter on it). */
export const INVALID_CONTROL_EVENT = "invalid_control_event";

export function isCustomerControlEvent(source: unknown, type: unknown): type is CustomerControlType {
  return (
    source === CUSTOMER_CONTROL_SOURCE &&
    typeof type === "string" &&
    (CUSTOMER_CONTROL_TYPES as readonly string[]).includes(type)
  );
}

/** What a control event asks for, once validated. */
export type CustomerControl =
  | {
      readonly kind: "upsert";
      readonly customerId: string;
      /** The version's order key (normalizeTmUpdate): later versions compare greater. */
      readonly version: string;
      readonly url: string;
      readonly method: SubscriptionMethod;
      /** The imported secret in its `whsec_` form (legacySecretToWhsec). */
      readonly secret: string;
    }
  | { readonly kind: "remove"; readonly customerId: string; readonly version: string };

export class InvalidCustomerControlError extends Error {
  override readonly name = "InvalidCustomerControlError";
  readonly code = "CONTROL_EVENT_INVALID";
  constructor(readonly problems: readonly string[]) {
    super(problems.join("; "));
  }
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BASE64URL_32 = /^[A-Za-z0-9_-]{32}$/;
const HEX_64 = /^[0-9a-fA-F]{64}$/;
/** VoIPBIN's `webhook_method` values and what is sent: `""` is GET, as Go's `http.NewRequest` makes it. */
export const LEGACY_METHODS: Readonly<Record<string, SubscriptionMethod>> = {
  "": "GET",
  POST: "POST",
  PUT: "PUT",
  GET: "GET",
  DELETE: "DELETE",
};
// RFC 3339 as Go's time.Time marshals it (fraction up to nanoseconds, Z or an offset), or the
// MySQL DATETIME(6) text VoIPBIN's older records carry ("2026-01-20 03:09:11.123456", UTC).
const TM_RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/i;

/**
 * A `tm_update` as a fixed-width UTC string that sorts like the instants it names, to nanoseconds
 * (Go's precision; a JavaScript Date keeps milliseconds only, so two updates in one millisecond
 * would otherwise tie). Null when it is not a time.
 */
export function normalizeTmUpdate(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const match = TM_RFC3339.exec(value.trim());
  if (match === null) return null;
  const [, y, mo, d, h, mi, s, fraction = "", zone = "Z"] = match;
  const seconds = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${zone.toUpperCase()}`);
  if (Number.isNaN(seconds)) return null;
  const whole = new Date(seconds);
  // Date.parse rolls 2026-02-30 over to March: refuse what is not a real calendar time.
  if (zone.toUpperCase() === "Z" && whole.getUTCDate() !== Number(d)) return null;
  return `${whole.toISOString().slice(0, 19)}.${fraction.padEnd(9, "0")}Z`;
}

/**
 * The imported secret as a Standard Webhooks secret: `whsec_` + base64 of the UTF-8 bytes of
 * VoIPBIN's `webhook_secret`. Both forms VoIPBIN issues (32 base64url characters, 64 hex
 * characters) are 32 or 64 bytes, inside the 24..64 the signer accepts, and HMAC keyed by those bytes
 * is exactly what VoIPBIN's sender computes (`hmac.New(sha256.New, []byte(secret))`): the
 * `x-voipbin-signature` is byte-identical, and the `webhook-signature` verifies with this form.
 */
export function legacySecretToWhsec(webhookSecret: string): string {
  return `whsec_${Buffer.from(webhookSecret, "utf8").toString("base64")}`;
}

const MANAGED_ID_DOMAIN = "voipbin-webhooks/managed-subscription/v1";

/**
 * The managed subscription's id: derived from the customer id (UUID version 8, RFC 9562), so every
 * control event, import row and retried router names the same subscription without a lookup.
 */
export function managedSubscriptionId(customerId: string): string {
  return derivedUuid(MANAGED_ID_DOMAIN, customerId.toLowerCase());
}

/** Problems of a webhook_uri as VoIPBIN stores it (no DNS check: PRODUCT §11 checks when dialled). */
function uriProblems(uri: string): string[] {
  if (uri.length > MAX_URL_LENGTH) return [`data.webhook_uri: longer than ${MAX_URL_LENGTH} characters`];
  if (/\s/.test(uri)) return ["data.webhook_uri: contains whitespace"];
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return ["data.webhook_uri: is not an absolute URL"];
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return ["data.webhook_uri: only http:// and https:// URLs are delivered"];
  }
  if (url.hostname === "") return ["data.webhook_uri: has no host"];
  return [];
}

/**
 * Validates one version of a customer (a control event's `data`, or an import row) and says what it
 * asks for. Every problem is listed at once. `customerId`, when given (a control event's
 * `detail.customer_id`), must name the same customer as `data.id`.
 *
 * Go's `omitempty` leaves an empty `webhook_uri` / `webhook_method` / `webhook_secret` out of the
 * JSON VoIPBIN marshals, so an absent one reads as "" (an absent `webhook_uri` therefore removes).
 */
export function parseCustomerVersion(
  type: CustomerControlType,
  data: unknown,
  customerId?: unknown,
): CustomerControl {
  const problems: string[] = [];
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new InvalidCustomerControlError(["data: must be the customer object"]);
  }
  const fields = data as Record<string, unknown>;
  const text = (name: string): string | null => {
    const value = fields[name];
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    problems.push(`data.${name}: must be a string`);
    return null;
  };

  const id = fields.id;
  const validId = typeof id === "string" && UUID.test(id);
  if (!validId) problems.push("data.id: must be a UUID");
  if (customerId !== undefined) {
    if (typeof customerId !== "string" || !UUID.test(customerId)) {
      problems.push("detail.customer_id: must be a UUID");
    } else if (validId && customerId.toLowerCase() !== (id as string).toLowerCase()) {
      problems.push("detail.customer_id: must equal data.id");
    }
  }

  // A deletion may carry only tm_delete (VoIPBIN sets it when it deletes).
  const version =
    normalizeTmUpdate(fields.tm_update) ??
    (type === "customer_deleted" ? normalizeTmUpdate(fields.tm_delete) : null);
  if (version === null) {
    problems.push("data.tm_update: must be an RFC 3339 time (or VoIPBIN's `YYYY-MM-DD HH:MM:SS.ffffff`)");
  }

  const uri = text("webhook_uri");
  const rawMethod = text("webhook_method");
  const secret = text("webhook_secret");
  const removing = type === "customer_deleted" || uri === "";
  let method: SubscriptionMethod | undefined;
  if (!removing) {
    if (uri !== null) problems.push(...uriProblems(uri));
    if (rawMethod !== null) {
      method = LEGACY_METHODS[rawMethod];
      if (method === undefined) problems.push('data.webhook_method: must be "", POST, PUT, GET or DELETE');
    }
    if (secret !== null && !BASE64URL_32.test(secret) && !HEX_64.test(secret)) {
      problems.push(
        secret === ""
          ? "data.webhook_secret: missing (a customer with a webhook_uri has a signing secret)"
          : "data.webhook_secret: must be 32 base64url characters or 64 hexadecimal characters",
      );
    }
  }
  if (problems.length > 0) throw new InvalidCustomerControlError(problems);
  const customer = (id as string).toLowerCase();
  if (removing) return { kind: "remove", customerId: customer, version: version as string };
  return {
    kind: "upsert",
    customerId: customer,
    version: version as string,
    url: uri as string,
    method: method as SubscriptionMethod,
    secret: legacySecretToWhsec(secret as string),
  };
}
