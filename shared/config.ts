import ipaddr from "ipaddr.js";
import * as z from "zod/mini";
import { MAX_VISIBILITY_TIMEOUT_SECONDS } from "./domain/aws-limits.ts";
import { type FairnessPolicy, FIRST_DIAL, firstDialDeferMs } from "./domain/delivery/endpoint-health.ts";
import { ConfigError } from "./domain/errors.ts";
import type { QuotaRules } from "./domain/quotas/quota.ts";
import { parseReservedEndpoints } from "./domain/reserved-endpoints.ts";

/**
 * Default retry schedule of PRODUCT §4: the delays (seconds) before attempts 2..8.
 * Eight attempts over about 27 hours.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 36000];

const BOOLEAN_WORDS = ["true", "false", "1", "0", "yes", "no"] as const;

const booleanFromEnv = z.pipe(
  z.enum(BOOLEAN_WORDS, { message: "must be true or false" }),
  z.transform(
    (value: (typeof BOOLEAN_WORDS)[number]) => value === "true" || value === "1" || value === "yes",
  ),
);

/** A transform's failure (zod/mini's transforms get the parse payload, not classic's `addIssue`). */
const fail = (ctx: z.core.ParsePayload, input: string, message: string) => {
  ctx.issues.push({ code: "custom", message, input });
  return z.NEVER;
};

/** A whole number from the environment within [min, max], `fallback` when unset. */
const intSetting = (min: number, max: number, fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)), fallback);

const positiveInt = (fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.positive()), fallback);

const optionalUrl = z.optional(z.url({ message: "must be an absolute URL" }));

/** A comma-separated list, trimmed, without empty entries. */
const commaList = (raw: string) =>
  raw === ""
    ? []
    : raw
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== "");

/** Comma-separated positive whole seconds, each within what SQS can delay. */
export const retryScheduleSchema = z.pipe(
  z.string().check(z.trim()),
  z.transform((raw: string, ctx) => {
    const parts = raw.split(",").map((part) => part.trim());
    const seconds = parts.map(Number);
    const bad = parts.filter((part, i) => {
      const n = seconds[i] ?? Number.NaN;
      return part === "" || !Number.isInteger(n) || n < 0 || n > MAX_VISIBILITY_TIMEOUT_SECONDS;
    });
    if (bad.length > 0) {
      return fail(
        ctx,
        raw,
        `must be comma-separated whole seconds between 0 and ${MAX_VISIBILITY_TIMEOUT_SECONDS} (bad: ${bad.map((b) => JSON.stringify(b)).join(", ")})`,
      );
    }
    if (seconds.length > 19) return fail(ctx, raw, "at most 19 retries (20 attempts)");
    return seconds;
  }),
);

const cidrListSchema = z.pipe(
  z.string().check(z.trim()),
  z
    .transform((raw: string) => commaList(raw))
    .check(
      z.superRefine((cidrs: string[], ctx) => {
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
      }),
    ),
);

/** DENIED_DESTINATIONS: `<address or CIDR>:<port>` entries, comma-separated (IPv6 in brackets). */
const reservedEndpointListSchema = z.pipe(
  z.string().check(z.trim()),
  z.transform((raw: string, ctx) => {
    const { endpoints, invalid } = parseReservedEndpoints(commaList(raw));
    if (invalid.length > 0) {
      return fail(
        ctx,
        raw,
        `not <address or CIDR>:<port> entries: ${invalid.join(", ")} (e.g. 127.0.0.0/8:4012,[::1]:4012)`,
      );
    }
    return endpoints;
  }),
);

/** The single schema over the environment, validated once at cold start. */
export const configSchema = z.object({
  AWS_REGION: z._default(z.string().check(z.minLength(1)), "us-east-1"),
  TABLE_NAME: z
    .string({ message: "is required (the DynamoDB table name)" })
    .check(z.minLength(3, "must be a DynamoDB table name")),
  /**
   * The delivery records' own table: heads, attempts, event payloads, shadow deliveries (TTL, no
   * point-in-time recovery; docs/data-model.md, "Splitting the delivery records out").
   */
  DELIVERIES_TABLE_NAME: z
    .string({ message: "is required (the DynamoDB table of delivery records)" })
    .check(z.minLength(3, "must be a DynamoDB table name")),
  DELIVERY_QUEUE_URL: z.url({ message: "is required (the SQS delivery queue URL)" }),
  /** Where the delivery function itself moves a job whose attempts are over (PRODUCT §4). */
  DELIVERY_DLQ_URL: z.url({ message: "is required (the SQS delivery dead-letter queue URL)" }),
  /**
   * The redrive target of the delivery lanes: SQS moves a job there after `maxReceiveCount` receives
   * (PRODUCT §4's backstop); the backstop reconciliation reads it (shared/services/delivery/backstop.ts).
   */
  DELIVERY_BACKSTOP_QUEUE_URL: z.url({ message: "is required (the SQS delivery backstop queue URL)" }),
  UNROUTABLE_QUEUE_URL: z.url({ message: "is required (the SQS unroutable-events queue URL)" }),
  EVENT_BUS_NAME: z._default(z.string().check(z.minLength(1)), "voipbin-events"),
  /** Fair delivery's slow lane (docs/delivery.md, "Fair delivery"); unset: one lane and no breaker. */
  SLOW_DELIVERY_QUEUE_URL: optionalUrl,
  /** The main lane's attempt budget: an endpoint slower than this is served by the slow lane. */
  MAIN_LANE_TIMEOUT_MS: intSetting(100, 60_000, 3000),
  /** Timeouts in a row that open an endpoint's circuit breaker. */
  BREAKER_THRESHOLD: positiveInt(5),
  /** First cooldown of an open breaker; each failed probe doubles it, up to BREAKER_MAX_COOLDOWN_MS. */
  BREAKER_COOLDOWN_MS: intSetting(1000, 900_000, 30_000),
  BREAKER_MAX_COOLDOWN_MS: intSetting(1000, 900_000, 600_000),
  /** How long an endpoint stays in the slow lane after its last slow answer or timeout. */
  SLOW_LANE_STICKY_MS: intSetting(1000, 86_400_000, 300_000),
  /** Attempts one slow-lane instance makes to one endpoint at once. */
  ENDPOINT_CONCURRENCY: positiveInt(4),
  /** How long a delivery instance reuses an endpoint's shared state it read. */
  ENDPOINT_HEALTH_CACHE_TTL_MS: intSetting(0, 60_000, 2000),
  DYNAMODB_ENDPOINT: optionalUrl,
  SQS_ENDPOINT: optionalUrl,
  EVENTBRIDGE_ENDPOINT: optionalUrl,
  RETRY_SCHEDULE: z.prefault(retryScheduleSchema, DEFAULT_RETRY_SCHEDULE_SECONDS.join(",")),
  RETRY_JITTER: z._default(z.coerce.number().check(z.minimum(0), z.maximum(0.5)), 0.2),
  DELIVERY_TIMEOUT_MS: intSetting(100, 60_000, 15_000),
  RESPONSE_BODY_MAX_BYTES: intSetting(0, 65_536, 4096),
  ALLOWED_CIDRS: z.prefault(cidrListSchema, ""),
  ALLOW_HTTP_URLS: z.prefault(booleanFromEnv, "false"),
  /**
   * Address ranges and ports that are never a webhook target, even inside ALLOWED_CIDRS: the system's
   * own endpoints (the local stack sets its API, EventBridge, DynamoDB and SQS ports here).
   */
  DENIED_DESTINATIONS: z.prefault(reservedEndpointListSchema, ""),
  AUTO_DISABLE_AFTER_SECONDS: positiveInt(5 * 24 * 3600),
  DELIVERY_RETENTION_DAYS: positiveInt(30),
  /**
   * Days an event's body is kept, when fewer than the records' (docs/security.md): unset, a body
   * lives a day longer than its deliveries. Checked against DELIVERY_RETENTION_DAYS by loadConfig.
   */
  /** Days between `customer_deleted` and the erasure of the customer's data (docs/security.md). */
  CUSTOMER_ERASURE_GRACE_DAYS: intSetting(0, 365, 14),
  PAYLOAD_RETENTION_DAYS: z.optional(z.coerce.number().check(z.int(), z.positive())),
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
  RECOVER_TIME_BUDGET_MS: intSetting(1000, 900_000, 20_000),
  /**
   * Where the API function finds the customer portal's built files (docs/portal.md). Unset: the
   * `portal/` folder beside the function's bundle, where the CDK app puts them.
   */
  PORTAL_ASSETS_DIR: z.optional(z.string().check(z.minLength(1))),
});

export type AppConfig = z.output<typeof configSchema>;

/**
 * Parses the environment into the typed config, or throws one ConfigError listing every problem
 * (a cold start that fails fast with all problems at once beats fixing them one deploy at a time).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const config = parseEnvironment(configSchema, env);
  const problems = crossSettingProblems(config);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Rules between settings, each valid alone (the deployment settings check the same: infra/settings.ts). */
export function crossSettingProblems(
  config: Pick<AppConfig, "PAYLOAD_RETENTION_DAYS" | "DELIVERY_RETENTION_DAYS">,
): string[] {
  const problems: string[] = [];
  if (
    config.PAYLOAD_RETENTION_DAYS !== undefined &&
    config.PAYLOAD_RETENTION_DAYS > config.DELIVERY_RETENTION_DAYS
  ) {
    problems.push(
      `PAYLOAD_RETENTION_DAYS: must be at most DELIVERY_RETENTION_DAYS (${config.DELIVERY_RETENTION_DAYS}): it keeps bodies for fewer days than the records, never more (got ${config.PAYLOAD_RETENTION_DAYS})`,
    );
  }
  return problems;
}

/**
 * What the API's authorizer reads: it only looks keys up, so it needs neither queue URLs nor the
 * delivery settings (and its role grants nothing else).
 */
export const authorizerConfigSchema = z.pick(configSchema, {
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

function parseEnvironment<S extends z.ZodMiniType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = z.safeParse(schema, present);
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
    provenFastMs: FIRST_DIAL.provenFastMs,
    firstDialDeferMs: firstDialDeferMs(config.MAIN_LANE_TIMEOUT_MS),
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
