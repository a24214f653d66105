import * as z from "zod";
import { type AppConfig, configSchema } from "#shared/config.ts";
import { DEFAULT_RESOURCE_NAMES, DELIVERY_FUNCTION_TIMEOUT_SECONDS } from "#shared/resources.ts";

/**
 * What an operator can set for a deployment, as CDK context (`-c key=value` or `cdk.json`) or as
 * stack props. The settings that the functions also read (retry schedule, timeouts, CIDRs, limits) are
 * validated by the very schema the functions validate their environment with (`shared/config.ts`),
 * so a value `cdk synth` accepts is one the functions accept at cold start, and the defaults are theirs.
 */
export interface WebhooksSettings {
  /**
   * Deployment stage; part of the stack name and of every resource name. `dev` (or `dev-<name>`) is a
   * development stage: its table and logs are destroyed with the stack and the stack has no
   * termination protection. Every other stage keeps its data (RETAIN, deletion protection).
   * Lowercase letters, digits and `-`, starting with a letter, at most 20 characters.
   * @default "prod"
   */
  readonly stage?: string;
  /**
   * Name of the EventBridge bus this stack creates for VoIPBIN services to put events on.
   * @default "voipbin-events"
   */
  readonly eventBusName?: string;
  /**
   * Attach to this existing bus (by name, e.g. `default`) instead of creating one.
   * Mutually exclusive with `eventBusName`.
   * @default - a bus named `eventBusName` is created
   */
  readonly existingEventBusName?: string;
  /**
   * Delays (seconds) before attempts 2..n. The number of attempts (schedule length + 1) is the delivery
   * queue's `maxReceiveCount`. Context accepts a comma-separated string.
   * @default [5, 300, 1800, 7200, 18000, 36000, 36000] (PRODUCT §4: eight attempts over about 27 hours)
   */
  readonly retrySchedule?: readonly number[];
  /**
   * Relative jitter applied to every retry delay (0..0.5).
   * @default 0.2
   */
  readonly retryJitter?: number;
  /**
   * Timeout of one delivery attempt (ms). At most 45 000, so that a batch still finishes inside the
   * delivery function's 60 s timeout.
   * @default 15000
   */
  readonly deliveryTimeoutMs?: number;
  /**
   * Extra CIDR ranges that subscription URLs may resolve to despite the SSRF rules (PRODUCT §6).
   * Context accepts a comma-separated string.
   * @default [] (nothing beyond the public internet)
   */
  readonly allowedCidrs?: readonly string[];
  /**
   * Accept `http://` subscription URLs.
   * @default false
   */
  readonly allowHttpUrls?: boolean;
  /**
   * Subscriptions a customer may have.
   * @default 50
   */
  readonly maxSubscriptionsPerCustomer?: number;
  /**
   * A subscription whose every attempt failed for this long is disabled (`failing`).
   * @default 432000 (5 days)
   */
  readonly autoDisableAfterSeconds?: number;
  /**
   * Days a delivery record (with its attempts) is kept.
   * @default 30
   */
  readonly deliveryRetentionDays?: number;
  /**
   * How long the previous secret keeps signing after a rotation.
   * @default 86400 (24 hours)
   */
  readonly secretRotationOverlapSeconds?: number;
  /**
   * Maximum concurrent delivery function instances the SQS event source mapping may run (2..1000).
   * It bounds the load on DynamoDB and on customers' endpoints: each instance sends up to 10 requests
   * at once.
   * @default 20
   */
  readonly deliveryMaxConcurrency?: number;
  /**
   * Reserved concurrency for the router (1..1000).
   * @default - none: EventBridge invokes the router asynchronously, so a burst is queued by Lambda
   *   rather than lost, and reserving concurrency fails the deploy on accounts with a low limit.
   */
  readonly routerReservedConcurrency?: number;
  /**
   * Retention of every function's and the API's log group, in days (a CloudWatch Logs value).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * Powertools log level of every function.
   * @default "INFO"
   */
  readonly logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR";
  /**
   * X-Ray active tracing on every function.
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * Create an SNS topic for the alarms, with this e-mail address subscribed.
   * Mutually exclusive with `alarmTopicArn`.
   * @default - no topic: the alarms have no actions
   */
  readonly alarmEmail?: string;
  /**
   * Send the alarms to this existing SNS topic. Mutually exclusive with `alarmEmail`.
   * @default - no topic: the alarms have no actions
   */
  readonly alarmTopicArn?: string;
  /**
   * Origins allowed to call the API from a browser. Context accepts a comma-separated string.
   * @default [] (CORS off: the API is for servers)
   */
  readonly corsAllowedOrigins?: readonly string[];
  /**
   * Steady-state requests per second the API stage accepts (all customers together).
   * @default 100
   */
  readonly apiRateLimit?: number;
  /**
   * Burst of requests the API stage accepts.
   * @default 200
   */
  readonly apiBurstLimit?: number;
}

/** Every setting with its default applied, plus what is derived from them. */
export interface ResolvedSettings {
  readonly stage: string;
  /** `dev` and `dev-*` stages: resources are destroyed with the stack. */
  readonly isDevStage: boolean;
  readonly eventBusName: string;
  /** Whether `eventBusName` names an existing bus to attach to. */
  readonly attachToExistingBus: boolean;
  readonly retrySchedule: readonly number[];
  readonly retryJitter: number;
  readonly deliveryTimeoutMs: number;
  readonly allowedCidrs: readonly string[];
  readonly allowHttpUrls: boolean;
  readonly maxSubscriptionsPerCustomer: number;
  readonly autoDisableAfterSeconds: number;
  readonly deliveryRetentionDays: number;
  readonly secretRotationOverlapSeconds: number;
  readonly deliveryMaxConcurrency: number;
  readonly routerReservedConcurrency: number | undefined;
  readonly logRetentionDays: number;
  readonly logLevel: "DEBUG" | "INFO" | "WARN" | "ERROR";
  readonly tracing: boolean;
  readonly alarmEmail: string | undefined;
  readonly alarmTopicArn: string | undefined;
  readonly corsAllowedOrigins: readonly string[];
  readonly apiRateLimit: number;
  readonly apiBurstLimit: number;
}

/** Invalid settings or props; `problems` lists every one of them. */
export class InvalidSettingsError extends Error {
  override readonly name = "InvalidSettingsError";
  constructor(readonly problems: readonly string[]) {
    super(`Invalid voipbin-webhooks settings (${problems.length}):\n  - ${problems.join("\n  - ")}`);
  }
}

/** Longest delivery attempt that still leaves the delivery function room to record it and finish. */
export const MAX_DELIVERY_TIMEOUT_MS = (DELIVERY_FUNCTION_TIMEOUT_SECONDS - 15) * 1000;

/** Retention values CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

// Context values arrive as strings (`-c key=value`) or JSON values (`cdk.json`); props arrive typed.
// These wrappers accept both.

/**
 * Settings the functions read from their environment: turned into the env string, then validated by
 * the environment's own schema (so the defaults are the functions' defaults too).
 */
function envBacked<O>(envSchema: z.ZodType<O>) {
  return z.unknown().transform((value, ctx): O => {
    let text: string | undefined;
    if (value === undefined) text = undefined;
    else if (Array.isArray(value)) text = value.join(",");
    else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      text = String(value);
    } else {
      ctx.addIssue({ code: "custom", message: "must be a string, a number, a boolean or a list" });
      return z.NEVER;
    }
    const result = envSchema.safeParse(text);
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.addIssue({ code: "custom", message: issue.message });
    return z.NEVER;
  });
}

const fromString = (value: unknown) =>
  typeof value === "string" && value.trim() !== "" ? Number(value) : value;

const int = (min: number, max: number) =>
  z.preprocess(
    fromString,
    z.number({ message: "must be a number" }).int("must be a whole number").min(min).max(max),
  );

const bool = z.preprocess(
  (value) => (value === "true" ? true : value === "false" ? false : value),
  z.boolean({ message: "must be true or false" }),
);

const list = z.preprocess(
  (value) =>
    typeof value === "string"
      ? value
          .split(",")
          .map((part) => part.trim())
          .filter((part) => part !== "")
      : value,
  z.array(z.string(), { message: "must be a list (or a comma-separated string)" }),
);

const busName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,256}$/, "must be an EventBridge bus name (letters, digits, '.', '-', '_')");

const origin = z
  .string()
  .regex(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be an origin like https://app.example.com");

const settingsSchema = z.object({
  stage: z
    .string({ message: "must be a string" })
    .regex(
      /^[a-z][a-z0-9-]{0,19}$/,
      "must be lowercase letters, digits and '-', start with a letter, at most 20 characters",
    )
    .default("prod"),
  eventBusName: busName.optional(),
  existingEventBusName: busName.optional(),
  retrySchedule: envBacked(configSchema.shape.RETRY_SCHEDULE),
  retryJitter: envBacked(configSchema.shape.RETRY_JITTER),
  deliveryTimeoutMs: envBacked(configSchema.shape.DELIVERY_TIMEOUT_MS).refine(
    (ms) => ms <= MAX_DELIVERY_TIMEOUT_MS,
    `must be at most ${MAX_DELIVERY_TIMEOUT_MS} (the delivery function times out after ${DELIVERY_FUNCTION_TIMEOUT_SECONDS} s)`,
  ),
  allowedCidrs: envBacked(configSchema.shape.ALLOWED_CIDRS),
  allowHttpUrls: envBacked(configSchema.shape.ALLOW_HTTP_URLS),
  maxSubscriptionsPerCustomer: envBacked(configSchema.shape.MAX_SUBSCRIPTIONS_PER_CUSTOMER),
  autoDisableAfterSeconds: envBacked(configSchema.shape.AUTO_DISABLE_AFTER_SECONDS),
  deliveryRetentionDays: envBacked(configSchema.shape.DELIVERY_RETENTION_DAYS),
  secretRotationOverlapSeconds: envBacked(configSchema.shape.SECRET_ROTATION_OVERLAP_SECONDS),
  deliveryMaxConcurrency: int(2, 1000).default(20),
  routerReservedConcurrency: int(1, 1000).optional(),
  logRetentionDays: int(1, 3653)
    .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
      message: `must be one of ${LOG_RETENTION_DAYS.join(", ")}`,
    })
    .default(30),
  logLevel: z
    .enum(["DEBUG", "INFO", "WARN", "ERROR"], { message: "must be DEBUG, INFO, WARN or ERROR" })
    .default("INFO"),
  tracing: bool.default(true),
  alarmEmail: z.email({ message: "must be an e-mail address" }).optional(),
  alarmTopicArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, "must be an SNS topic ARN")
    .optional(),
  corsAllowedOrigins: list.pipe(z.array(origin)).default([]),
  apiRateLimit: int(1, 10_000).default(100),
  apiBurstLimit: int(1, 5000).default(200),
});

/** The keys an operator may set; anything else that looks like a setting is reported as a typo. */
export const SETTING_KEYS: readonly (keyof WebhooksSettings)[] = Object.keys(
  settingsSchema.shape,
) as (keyof WebhooksSettings)[];

/**
 * Validates settings (typed props, or raw context values) and applies the defaults. Throws one
 * InvalidSettingsError listing every problem, including `extraProblems` found by the caller.
 */
export function resolveSettings(
  input: Readonly<Record<string, unknown>>,
  extraProblems: readonly string[] = [],
): ResolvedSettings {
  const problems = [...extraProblems];
  const picked = Object.fromEntries(SETTING_KEYS.map((key) => [key, input[key]]));
  const result = settingsSchema.safeParse(picked);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.map(String).join(".") || "(settings)";
      problems.push(`${key}: ${issue.message} (got ${describe(input[String(issue.path[0])])})`);
    }
  }
  if (input.eventBusName !== undefined && input.existingEventBusName !== undefined) {
    problems.push("eventBusName and existingEventBusName: set one of them, not both");
  }
  if (input.alarmEmail !== undefined && input.alarmTopicArn !== undefined) {
    problems.push("alarmEmail and alarmTopicArn: set one of them, not both");
  }
  if (!result.success || problems.length > 0) throw new InvalidSettingsError(problems);

  const s = result.data;
  return {
    stage: s.stage,
    isDevStage: s.stage === "dev" || s.stage.startsWith("dev-"),
    eventBusName: s.existingEventBusName ?? s.eventBusName ?? DEFAULT_RESOURCE_NAMES.eventBus,
    attachToExistingBus: s.existingEventBusName !== undefined,
    retrySchedule: s.retrySchedule,
    retryJitter: s.retryJitter,
    deliveryTimeoutMs: s.deliveryTimeoutMs,
    allowedCidrs: s.allowedCidrs,
    allowHttpUrls: s.allowHttpUrls,
    maxSubscriptionsPerCustomer: s.maxSubscriptionsPerCustomer,
    autoDisableAfterSeconds: s.autoDisableAfterSeconds,
    deliveryRetentionDays: s.deliveryRetentionDays,
    secretRotationOverlapSeconds: s.secretRotationOverlapSeconds,
    deliveryMaxConcurrency: s.deliveryMaxConcurrency,
    routerReservedConcurrency: s.routerReservedConcurrency,
    logRetentionDays: s.logRetentionDays,
    logLevel: s.logLevel,
    tracing: s.tracing,
    alarmEmail: s.alarmEmail,
    alarmTopicArn: s.alarmTopicArn,
    corsAllowedOrigins: s.corsAllowedOrigins,
    apiRateLimit: s.apiRateLimit,
    apiBurstLimit: s.apiBurstLimit,
  };
}

/**
 * Reads the settings from CDK context. Context keys that look like settings (plain camelCase words,
 * unlike feature flags and `aws:cdk:*` keys) but are not one are reported, so a typo does not
 * silently deploy a default.
 */
export function resolveSettingsFromContext(context: Readonly<Record<string, unknown>>): ResolvedSettings {
  const known = new Set<string>(SETTING_KEYS);
  const unknown = Object.keys(context).filter((key) => /^[a-z][A-Za-z0-9]*$/.test(key) && !known.has(key));
  return resolveSettings(
    context,
    unknown.map((key) => `${key}: not a setting (settings are: ${SETTING_KEYS.join(", ")})`),
  );
}

/**
 * The environment every function gets: the resource names plus the settings, in the format
 * `shared/config.ts` parses. Typed by the config schema, so a misspelt variable does not compile.
 */
export function functionSettingsEnvironment(
  settings: ResolvedSettings,
): Readonly<Partial<Record<keyof AppConfig, string>>> {
  return {
    EVENT_BUS_NAME: settings.eventBusName,
    RETRY_SCHEDULE: settings.retrySchedule.join(","),
    RETRY_JITTER: String(settings.retryJitter),
    DELIVERY_TIMEOUT_MS: String(settings.deliveryTimeoutMs),
    ...(settings.allowedCidrs.length > 0 ? { ALLOWED_CIDRS: settings.allowedCidrs.join(",") } : {}),
    ALLOW_HTTP_URLS: String(settings.allowHttpUrls),
    MAX_SUBSCRIPTIONS_PER_CUSTOMER: String(settings.maxSubscriptionsPerCustomer),
    AUTO_DISABLE_AFTER_SECONDS: String(settings.autoDisableAfterSeconds),
    DELIVERY_RETENTION_DAYS: String(settings.deliveryRetentionDays),
    SECRET_ROTATION_OVERLAP_SECONDS: String(settings.secretRotationOverlapSeconds),
  };
}

/** Resolved settings as stack props (what `resolveSettings` turns back into the same settings). */
export function settingsAsProps(settings: ResolvedSettings): WebhooksSettings {
  return {
    stage: settings.stage,
    ...(settings.attachToExistingBus
      ? { existingEventBusName: settings.eventBusName }
      : { eventBusName: settings.eventBusName }),
    retrySchedule: settings.retrySchedule,
    retryJitter: settings.retryJitter,
    deliveryTimeoutMs: settings.deliveryTimeoutMs,
    allowedCidrs: settings.allowedCidrs,
    allowHttpUrls: settings.allowHttpUrls,
    maxSubscriptionsPerCustomer: settings.maxSubscriptionsPerCustomer,
    autoDisableAfterSeconds: settings.autoDisableAfterSeconds,
    deliveryRetentionDays: settings.deliveryRetentionDays,
    secretRotationOverlapSeconds: settings.secretRotationOverlapSeconds,
    deliveryMaxConcurrency: settings.deliveryMaxConcurrency,
    routerReservedConcurrency: settings.routerReservedConcurrency,
    logRetentionDays: settings.logRetentionDays,
    logLevel: settings.logLevel,
    tracing: settings.tracing,
    alarmEmail: settings.alarmEmail,
    alarmTopicArn: settings.alarmTopicArn,
    corsAllowedOrigins: settings.corsAllowedOrigins,
    apiRateLimit: settings.apiRateLimit,
    apiBurstLimit: settings.apiBurstLimit,
  };
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
