import ipaddr from "ipaddr.js";
import * as z from "zod";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "./domain/aws-limits.ts";
import type { FairnessPolicy } from "./domain/delivery/endpoint-health.ts";
import { ConfigError } from "./domain/errors.ts";
import type { QuotaRules } from "./domain/quotas/quota.ts";
import { parseReservedEndpoints } from "./domain/reserved-endpoints.ts";

/**
 * Default retry schedule of PRODUCT §4: the delays (seconds) before attempts 2..8.
 * Eight attempts over about 27 hours.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 36000];

const booleanFromEnv = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
  .transform((value) => value === "true" || value === "1" || value === "yes");

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const optionalUrl = z.url({ message: "must be an absolute URL" }).optional();

/** Comma-separated positive whole seconds, each within what SQS can delay. */
export const retryScheduleSchema = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    const parts = raw.split(",").map((part) => part.trim());
    const seconds = parts.map(Number);
    const bad = parts.filter((part, i) => {
      const n = seconds[i] ?? Number.NaN;
      return part === "" || !Number.isInteger(n) || n < 0 || n > MAX_VISIBILITY_TIMEOUT_SECONDS;
    });
    if (bad.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `must be comma-separated whole seconds between 0 and ${MAX_VISIBILITY_TIMEOUT_SECONDS} (bad: ${bad.map((b) => JSON.stringify(b)).join(", ")})`,
      });
      return z.NEVER;
    }
    if (seconds.length > 19) {
      ctx.addIssue({ code: "custom", message: "at most 19 retries (20 attempts)" });
      return z.NEVER;
    }
    return seconds;
  });

const cidrListSchema = z
  .string()
  .trim()
  .transform((raw) =>
    raw === ""
      ? []
      : raw
          .split(",")
          .map((part) => part.trim())
          .filter((part) => part !== ""),
  )
  .superRefine((cidrs, ctx) => {
    const bad = cidrs.filter((cidr) => {
      try {
        ipaddr.parseCIDR(cidr);
        return false;
      } catch {
        return true;
      }
    });
    if (bad.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `not CIDR ranges: ${bad.join(", ")} (e.g. 127.0.0.0/8,::1/128)`,
      });
    }
  });

/** DENIED_DESTINATIONS: `<address or CIDR>:<port>` entries, comma-separated (IPv6 in brackets). */
const reservedEndpointListSchema = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    const entries =
      raw === ""
        ? []
        : raw
            .split(",")
            .map((part) => part.trim())
            .filter((part) => part !== "");
    const { endpoints, invalid } = parseReservedEndpoints(entries);
    if (invalid.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `not <address or CIDR>:<port> entries: ${invalid.join(", ")} (e.g. 127.0.0.0/8:4012,[::1]:4012)`,
      });
      return z.NEVER;
    }
    return endpoints;
  });

/** The single schema over the environment, validated once at cold start. */
export const configSchema = z.object({
  AWS_REGION: z.string().min(1).default("us-east-1"),
  TABLE_NAME: z
    .string({ message: "is required (the DynamoDB table name)" })
    .min(3, "must be a DynamoDB table name"),
  DELIVERY_QUEUE_URL: z.url({ message: "is required (the SQS delivery queue URL)" }),
  /** Where the delivery function itself moves a job whose attempts are over (PRODUCT §4). */
  DELIVERY_DLQ_URL: z.url({ message: "is required (the SQS delivery dead-letter queue URL)" }),
  UNROUTABLE_QUEUE_URL: z.url({ message: "is required (the SQS unroutable-events queue URL)" }),
  EVENT_BUS_NAME: z.string().min(1).default("voipbin-events"),
  /** Fair delivery's slow lane (docs/delivery.md, "Fair delivery"); unset: one lane and no breaker. */
  SLOW_DELIVERY_QUEUE_URL: optionalUrl,
  /** The main lane's attempt budget: an endpoint slower than this is served by the slow lane. */
  MAIN_LANE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
  /** Timeouts in a row that open an endpoint's circuit breaker. */
  BREAKER_THRESHOLD: positiveInt(5),
  /** First cooldown of an open breaker; each failed probe doubles it, up to BREAKER_MAX_COOLDOWN_MS. */
  BREAKER_COOLDOWN_MS: z.coerce.number().int().min(1000).max(900_000).default(30_000),
  BREAKER_MAX_COOLDOWN_MS: z.coerce.number().int().min(1000).max(900_000).default(600_000),
  /** How long an endpoint stays in the slow lane after its last slow answer or timeout. */
  SLOW_LANE_STICKY_MS: z.coerce.number().int().min(1000).max(86_400_000).default(300_000),
  /** Attempts one slow-lane instance makes to one endpoint at once. */
  ENDPOINT_CONCURRENCY: positiveInt(4),
  /** How long a delivery instance reuses an endpoint's shared state it read. */
  ENDPOINT_HEALTH_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  DYNAMODB_ENDPOINT: optionalUrl,
  SQS_ENDPOINT: optionalUrl,
  EVENTBRIDGE_ENDPOINT: optionalUrl,
  RETRY_SCHEDULE: retryScheduleSchema.prefault(DEFAULT_RETRY_SCHEDULE_SECONDS.join(",")),
  RETRY_JITTER: z.coerce.number().min(0).max(0.5).default(0.2),
  DELIVERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  RESPONSE_BODY_MAX_BYTES: z.coerce.number().int().min(0).max(65_536).default(4096),
  ALLOWED_CIDRS: cidrListSchema.prefault(""),
  ALLOW_HTTP_URLS: booleanFromEnv.prefault("false"),
  /**
   * Address ranges and ports that are never a webhook target, even inside ALLOWED_CIDRS: the system's
   * own endpoints (the local stack sets its API, EventBridge, DynamoDB and SQS ports here).
   */
  DENIED_DESTINATIONS: reservedEndpointListSchema.prefault(""),
  AUTO_DISABLE_AFTER_SECONDS: positiveInt(5 * 24 * 3600),
  DELIVERY_RETENTION_DAYS: positiveInt(30),
  MAX_SUBSCRIPTIONS_PER_CUSTOMER: positiveInt(50),
  /** Per-customer quotas on what sends requests on the customer's behalf (docs/api.md, "Quotas"). */
  QUOTA_TEST_EVENTS_PER_MINUTE: positiveInt(10),
  QUOTA_RETRIES_PER_MINUTE: positiveInt(30),
  QUOTA_RECOVERS_PER_HOUR: positiveInt(6),
  SECRET_ROTATION_OVERLAP_SECONDS: positiveInt(24 * 3600),
  /**
   * How long one `POST …/recover` request may spend re-enqueueing before it answers with what it did
   * and where to continue; keep it below the API function's timeout (API Gateway allows 30 s at most).
   */
  RECOVER_TIME_BUDGET_MS: z.coerce.number().int().min(1000).max(900_000).default(20_000),
  /**
   * Where the API function finds the customer portal's built files (docs/portal.md). Unset: the
   * `portal/` folder beside the function's bundle, where the CDK app puts them.
   */
  PORTAL_ASSETS_DIR: z.string().min(1).optional(),
});

export type AppConfig = z.output<typeof configSchema>;

/**
 * What each variable of `configSchema` means, for docs/configuration.md (`npm run docs:config`
 * renders it with the schema's defaults). Typed by the schema's keys: a variable without a line here
 * does not compile.
 */
export const CONFIG_DESCRIPTIONS: Readonly<Record<keyof AppConfig, string>> = {
  AWS_REGION: "set by Lambda",
  TABLE_NAME: "the DynamoDB table",
  DELIVERY_QUEUE_URL: "the SQS delivery queue",
  DELIVERY_DLQ_URL:
    "the delivery dead-letter queue, where the delivery function moves a job after its last attempt",
  UNROUTABLE_QUEUE_URL: "the SQS queue for unroutable events",
  EVENT_BUS_NAME: "where operational events (`webhook_subscription_disabled`) go",
  DYNAMODB_ENDPOINT: "endpoint override, for the local stack only",
  SQS_ENDPOINT: "endpoint override, for the local stack only",
  EVENTBRIDGE_ENDPOINT: "endpoint override, for the local stack only",
  RETRY_SCHEDULE: `seconds before attempts 2…n; at most 19 retries, each ≤ ${MAX_VISIBILITY_TIMEOUT_SECONDS}. Attempts are counted on the delivery record; a delay longer than one SQS sleep allows is reached in hops. The queue's \`maxReceiveCount\` backstop is derived from it ((length + 1) × 3 + 10)`,
  RETRY_JITTER: "± fraction applied to each delay (0–0.5)",
  DELIVERY_TIMEOUT_MS: "per attempt: connect, headers and body (100–60,000)",
  RESPONSE_BODY_MAX_BYTES: "response body kept in the delivery log (0–65,536)",
  ALLOWED_CIDRS: "ranges exempt from the SSRF block list (comma-separated)",
  ALLOW_HTTP_URLS: "accept `http://` subscription URLs",
  DENIED_DESTINATIONS:
    "`<address or CIDR>:<port>` entries (IPv6 in brackets: `[::1]:4012`) never dialled, even inside `ALLOWED_CIDRS`: refused at create/update and at connect time. The local stack adds its own four ports on every loopback spelling",
  AUTO_DISABLE_AFTER_SECONDS: "failing this long (default 5 days) → disabled (`failing`)",
  DELIVERY_RETENTION_DAYS:
    "delivery records (and the stored event bodies) expire this long after they were created",
  MAX_SUBSCRIPTIONS_PER_CUSTOMER: "API limit (exact under concurrency: a conditional counter per customer)",
  QUOTA_TEST_EVENTS_PER_MINUTE:
    'test events a customer may send per minute (429 `QUOTA_EXCEEDED` beyond; docs/api.md, "Quotas")',
  QUOTA_RETRIES_PER_MINUTE: "manual retries a customer may make per minute",
  QUOTA_RECOVERS_PER_HOUR: "recover calls a customer may make per hour",
  SLOW_DELIVERY_QUEUE_URL:
    'fair delivery\'s slow lane (docs/delivery.md, "Fair delivery"); unset: one lane, no breaker (what the tests that poll only the delivery queue use)',
  MAIN_LANE_TIMEOUT_MS:
    "the main lane's attempt budget: an endpoint that has not answered by then is served by the slow lane, with the full DELIVERY_TIMEOUT_MS",
  BREAKER_THRESHOLD:
    "timeouts in a row that open an endpoint's circuit breaker (no dialling until the cooldown, then one probe)",
  BREAKER_COOLDOWN_MS: "first cooldown of an open breaker; each failed probe doubles it",
  BREAKER_MAX_COOLDOWN_MS: "longest cooldown of an open breaker",
  SLOW_LANE_STICKY_MS: "how long an endpoint stays in the slow lane after its last slow answer or timeout",
  ENDPOINT_CONCURRENCY:
    "attempts one slow-lane invocation makes to one endpoint at once; more wait one timeout's length",
  ENDPOINT_HEALTH_CACHE_TTL_MS:
    "how long a delivery instance reuses an endpoint's shared state it read (0 = read every batch)",
  SECRET_ROTATION_OVERLAP_SECONDS: "how long the previous secret keeps signing after a rotation",
  RECOVER_TIME_BUDGET_MS:
    "how long one `POST …/recover` request may spend re-enqueueing before it answers with what it did and where to continue; keep it below the API function's timeout (1,000–900,000)",
  PORTAL_ASSETS_DIR:
    "where the API function finds the customer portal's built files (docs/portal.md); unset: `portal/` beside its bundle, where the CDK app puts them (the local stack sets it to its fresh build)",
};

/**
 * Parses the environment into the typed config, or throws one ConfigError listing every problem
 * (a cold start that fails fast with all problems at once beats fixing them one deploy at a time).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  return parseEnvironment(configSchema, env);
}

/**
 * What the API's authorizer reads: it only looks keys up, so it needs neither queue URLs nor the
 * delivery settings (and its role grants nothing else).
 */
export const authorizerConfigSchema = configSchema.pick({
  AWS_REGION: true,
  TABLE_NAME: true,
  DYNAMODB_ENDPOINT: true,
});

export type AuthorizerConfig = z.output<typeof authorizerConfigSchema>;

export function loadAuthorizerConfig(
  env: Record<string, string | undefined> = process.env,
): AuthorizerConfig {
  return parseEnvironment(authorizerConfigSchema, env);
}

function parseEnvironment<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = schema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join(".") || "(env)"}: ${issue.message}`),
    );
  }
  return result.data;
}

/** The quota rules the config sets. */
export function quotaRulesFor(
  config: Pick<
    AppConfig,
    "QUOTA_TEST_EVENTS_PER_MINUTE" | "QUOTA_RETRIES_PER_MINUTE" | "QUOTA_RECOVERS_PER_HOUR"
  >,
): QuotaRules {
  return {
    test_event: { limit: config.QUOTA_TEST_EVENTS_PER_MINUTE, windowSeconds: 60 },
    retry: { limit: config.QUOTA_RETRIES_PER_MINUTE, windowSeconds: 60 },
    recover: { limit: config.QUOTA_RECOVERS_PER_HOUR, windowSeconds: 3600 },
  };
}

/** The fair-delivery policy the config sets (docs/delivery.md, "Fair delivery"). */
export function fairnessPolicyFor(config: AppConfig): FairnessPolicy {
  return {
    mainLaneTimeoutMs: config.MAIN_LANE_TIMEOUT_MS,
    timeoutMs: config.DELIVERY_TIMEOUT_MS,
    breakerThreshold: config.BREAKER_THRESHOLD,
    cooldownMs: config.BREAKER_COOLDOWN_MS,
    maxCooldownMs: Math.max(config.BREAKER_COOLDOWN_MS, config.BREAKER_MAX_COOLDOWN_MS),
    slowLaneStickyMs: config.SLOW_LANE_STICKY_MS,
    endpointConcurrency: config.ENDPOINT_CONCURRENCY,
  };
}

/** The quota rules of a deployment that sets none (what the OpenAPI document and docs state). */
export function defaultQuotaRules(): QuotaRules {
  return quotaRulesFor({
    QUOTA_TEST_EVENTS_PER_MINUTE: configSchema.shape.QUOTA_TEST_EVENTS_PER_MINUTE.parse(undefined),
    QUOTA_RETRIES_PER_MINUTE: configSchema.shape.QUOTA_RETRIES_PER_MINUTE.parse(undefined),
    QUOTA_RECOVERS_PER_HOUR: configSchema.shape.QUOTA_RECOVERS_PER_HOUR.parse(undefined),
  });
}

/**
 * Receives after which SQS itself moves a job to the DLQ: only a backstop. Our code counts attempts
 * on the record and dead-letters the job after the last one; receives that send nothing (throttled
 * invocations, our own errors, hops of a long sleep, early wake-ups) also raise SQS's count, so the
 * backstop sits well above the schedule: three receives per attempt plus ten (34 for the default
 * eight attempts). A job that still reaches it is reconciled (`dead`, reason `internal`).
 */
export function maxReceiveCountFor(retryScheduleSeconds: readonly number[]): number {
  return (retryScheduleSeconds.length + 1) * 3 + 10;
}
