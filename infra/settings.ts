import * as z from "zod";
import { type AppConfig, configSchema, crossSettingProblems } from "#shared/config.ts";
import { CodedError } from "#shared/domain/errors.ts";
import {
  DELIVERY_BATCHING_WINDOW_SECONDS,
  DELIVERY_FUNCTION_TIMEOUT_SECONDS,
  DELIVERY_LANE_CONCURRENCY,
  FUNCTION_TIMEOUT_SECONDS,
  ROUTER_BATCHING_WINDOW_SECONDS,
  ROUTER_QUEUE,
  resourceNamesFor,
} from "#shared/resources.ts";

/**
 * What an operator can set for a deployment, as CDK context (`-c key=value` or `cdk.json`) or as
 * stack props, declared once in `SETTINGS`: the props type, the resolved type, the context parsing,
 * the functions' environment and docs/configuration.md (`npm run docs:config`) all come from it.
 *
 * The settings that the functions also read (retry schedule, timeouts, CIDRs, limits) are validated by
 * the very schema the functions validate their environment with (`shared/config.ts`), so a value
 * `cdk synth` accepts is one the functions accept at cold start, and the defaults are theirs.
 */

/** Invalid settings or props; `problems` lists every one of them. */
export class InvalidSettingsError extends CodedError {
  override readonly name = "InvalidSettingsError";
  readonly code = "SETTINGS_INVALID";
  constructor(readonly problems: readonly string[]) {
    super(`Invalid voipbin-webhooks settings (${problems.length}):\n  - ${problems.join("\n  - ")}`);
  }
}

/** Longest delivery attempt that still leaves the delivery function room to record it and finish. */
export const MAX_DELIVERY_TIMEOUT_MS = (DELIVERY_FUNCTION_TIMEOUT_SECONDS - 15) * 1000;

/** The recover route's budget leaves the API function time to answer (and API Gateway's 30 s). */
export const MAX_RECOVER_TIME_BUDGET_MS = (FUNCTION_TIMEOUT_SECONDS.api - 4) * 1000;

/** Retention values CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;

/** Lambda's system (platform) log levels (advanced logging controls, `SystemLogLevel`). */
const SYSTEM_LOG_LEVELS = ["DEBUG", "INFO", "WARN"] as const;

/** DynamoDB capacity modes a deployment may choose (docs/deploy.md, "Capacity: on-demand or provisioned"). */
export const CAPACITY_MODES = ["on-demand", "provisioned"] as const;

// Context values arrive as strings (`-c key=value`) or JSON values (`cdk.json`); props arrive typed.
// These wrappers accept both.

/**
 * Settings the functions read from their environment: turned into the env string, then validated by
 * the environment's own schema (so the defaults are the functions' defaults too).
 */
function envBacked<O>(envSchema: z.core.$ZodType<O>) {
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
    const result = z.safeParse(envSchema, text);
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
    z
      .number({ message: "must be a number" })
      .int("must be a whole number")
      // Their own messages: the schema's "must be a number" would otherwise name every failed check.
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
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

/** One setting: how it is validated (context strings and typed props alike) and what it means. */
interface SettingSpec {
  readonly schema: z.ZodType;
  /** One line for docs/configuration.md. */
  readonly description: string;
  /** What the docs say when the default is not a plain value (unset, or derived). */
  readonly defaultText?: string;
  /** The function environment variable (shared/config.ts) this setting is passed on as. */
  readonly env?: keyof AppConfig;
}

/** A setting that is passed on to the functions as `variable`, validated by that variable's schema. */
const env = <V extends keyof AppConfig>(variable: V) => ({
  schema: envBacked(configSchema.shape[variable] as unknown as z.core.$ZodType<AppConfig[V]>),
  env: variable,
});

/** Every setting, in the order the docs list them. */
export const SETTINGS = {
  stage: {
    schema: z
      .string({ message: "must be a string" })
      .regex(
        /^[a-z][a-z0-9-]{0,19}$/,
        "must be lowercase letters, digits and '-', start with a letter, at most 20 characters",
      )
      .default("prod"),
    description:
      "deployment stage: the stack is `VoipbinWebhooks-<stage>` and every resource name ends in `-<stage>`. `dev` and `dev-<name>` are destroyed with the stack; every other stage keeps its data (RETAIN, deletion protection, termination protection)",
  },
  eventBusName: {
    schema: busName.optional(),
    env: "EVENT_BUS_NAME",
    description: "name of the EventBridge bus the stack creates for VoIPBIN services to put events on",
    defaultText: "`voipbin-events-<stage>`",
  },
  existingEventBusName: {
    schema: busName.optional(),
    env: "EVENT_BUS_NAME",
    description:
      "attach to this existing bus (e.g. `default`) instead of creating one; not with `eventBusName`",
    defaultText: "— (a bus is created)",
  },
  retrySchedule: {
    ...env("RETRY_SCHEDULE"),
    description:
      "delays (seconds) before attempts 2..n (attempts are counted on the delivery record; the queue's `maxReceiveCount` backstop, 35, does not depend on it). Context takes a comma-separated list",
  },
  retryJitter: { ...env("RETRY_JITTER"), description: "± relative jitter on each delay (0–0.5)" },
  deliveryTimeoutMs: {
    schema: envBacked(configSchema.shape.DELIVERY_TIMEOUT_MS).refine(
      (ms) => ms <= MAX_DELIVERY_TIMEOUT_MS,
      `must be at most ${MAX_DELIVERY_TIMEOUT_MS} (the delivery function times out after ${DELIVERY_FUNCTION_TIMEOUT_SECONDS} s)`,
    ),
    env: "DELIVERY_TIMEOUT_MS",
    description: `one attempt's timeout (≤ ${MAX_DELIVERY_TIMEOUT_MS}, so a batch finishes within the delivery function's ${DELIVERY_FUNCTION_TIMEOUT_SECONDS} s)`,
  },
  allowedCidrs: {
    ...env("ALLOWED_CIDRS"),
    description:
      "extra CIDR ranges subscription URLs may resolve to despite the SSRF rules (comma-separated)",
  },
  allowHttpUrls: { ...env("ALLOW_HTTP_URLS"), description: "accept `http://` subscription URLs" },
  maxSubscriptionsPerCustomer: {
    ...env("MAX_SUBSCRIPTIONS_PER_CUSTOMER"),
    description: "subscriptions a customer may have",
  },
  quotaTestEventsPerMinute: {
    ...env("QUOTA_TEST_EVENTS_PER_MINUTE"),
    description: "test events a customer may send per minute (429 `QUOTA_EXCEEDED` beyond)",
  },
  quotaRetriesPerMinute: {
    ...env("QUOTA_RETRIES_PER_MINUTE"),
    description: "manual retries (`POST /v1/deliveries/{id}/retry`) a customer may make per minute",
  },
  quotaRecoversPerHour: {
    ...env("QUOTA_RECOVERS_PER_HOUR"),
    description: "recover calls (`POST /v1/subscriptions/{id}/recover`) a customer may make per hour",
  },
  autoDisableAfterSeconds: {
    ...env("AUTO_DISABLE_AFTER_SECONDS"),
    description: "a subscription whose every attempt failed this long is disabled (`failing`)",
  },
  deliveryRetentionDays: {
    ...env("DELIVERY_RETENTION_DAYS"),
    description: "days a delivery record (with its attempts) is kept (TTL)",
  },
  customerErasureGraceDays: {
    ...env("CUSTOMER_ERASURE_GRACE_DAYS"),
    description:
      "days after `customer_deleted` before the customer's stored data is erased (docs/security.md)",
  },
  payloadRetentionDays: {
    ...env("PAYLOAD_RETENTION_DAYS"),
    description:
      "days an event's body is kept, at most `deliveryRetentionDays` (unset: a day longer than the records; docs/security.md)",
  },
  secretRotationOverlapSeconds: {
    ...env("SECRET_ROTATION_OVERLAP_SECONDS"),
    description: "how long the previous secret keeps signing after a rotation",
  },
  recoverTimeBudgetMs: {
    schema: envBacked(configSchema.shape.RECOVER_TIME_BUDGET_MS).refine(
      (ms) => ms <= MAX_RECOVER_TIME_BUDGET_MS,
      `must be at most ${MAX_RECOVER_TIME_BUDGET_MS} (the API function times out after ${FUNCTION_TIMEOUT_SECONDS.api} s)`,
    ),
    env: "RECOVER_TIME_BUDGET_MS",
    description: `how long one \`POST …/recover\` request may re-enqueue before it answers (≤ ${MAX_RECOVER_TIME_BUDGET_MS}, within the API function's ${FUNCTION_TIMEOUT_SECONDS.api} s)`,
  },
  deliveryMaxConcurrency: {
    schema: int(2, 1000).default(DELIVERY_LANE_CONCURRENCY.main),
    description:
      "event source mapping `maxConcurrency` (2–1000): concurrent delivery instances, each sending up to 10 requests at once",
  },
  slowLaneMaxConcurrency: {
    schema: int(2, 1000).default(DELIVERY_LANE_CONCURRENCY.slow),
    description:
      "`maxConcurrency` of the slow lane's event source mapping (2–1000): what slow and black-holing endpoints can occupy, beside the main lane's own",
  },
  mainLaneTimeoutMs: {
    ...env("MAIN_LANE_TIMEOUT_MS"),
    description:
      'the main lane\'s attempt budget: an endpoint slower than this is served by the slow lane (docs/delivery.md, "Fair delivery")',
  },
  breakerThreshold: {
    ...env("BREAKER_THRESHOLD"),
    description: "timeouts in a row that open an endpoint's circuit breaker",
  },
  breakerCooldownMs: {
    ...env("BREAKER_COOLDOWN_MS"),
    description: "first cooldown of an open breaker (doubled by each failed probe)",
  },
  endpointConcurrency: {
    ...env("ENDPOINT_CONCURRENCY"),
    description: "attempts one slow-lane invocation makes to one endpoint at once",
  },
  deliveryReservedConcurrency: {
    schema: int(5, 1000).optional(),
    description:
      "reserved concurrency of the delivery function (5–1000); at least the sum of its mappings' `maxConcurrency` plus one for the scheduled backstop pass, or Lambda throttles the mappings' batches and each throttled batch is one more receive of its messages (Lambda Developer Guide, \"Configuring scaling behavior for SQS event source mappings\"). Sizing: docs/deploy.md",
    defaultText: "`deliveryMaxConcurrency + slowLaneMaxConcurrency + 1` (26 with their defaults)",
  },
  routerReservedConcurrency: {
    schema: int(ROUTER_QUEUE.maxConcurrency, 1000).optional(),
    description: `reserved concurrency of the router (${ROUTER_QUEUE.maxConcurrency}–1000): at least its queue mapping's \`maxConcurrency\` (${ROUTER_QUEUE.maxConcurrency}), or Lambda throttles the mapping's batches and each throttled batch is one more receive of its events`,
    defaultText: "— (none: the router's mapping caps it at its `maxConcurrency`)",
  },
  logRetentionDays: {
    schema: int(1, 3653)
      .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
        message: `must be one of ${LOG_RETENTION_DAYS.join(", ")}`,
      })
      .default(30),
    description: "retention of every function's and the API's log group, in days (a CloudWatch Logs value)",
  },
  logLevel: {
    schema: z.enum(LOG_LEVELS, { message: "must be DEBUG, INFO, WARN or ERROR" }).default("INFO"),
    description:
      "application log level of every function (Lambda's JSON log format, `ApplicationLogLevel`, and Powertools')",
  },
  systemLogLevel: {
    schema: z.enum(SYSTEM_LOG_LEVELS, { message: "must be DEBUG, INFO or WARN" }).default("WARN"),
    description:
      "Lambda's system log level (`SystemLogLevel`): at WARN the per-invocation platform lines (start, runtime done, report) are not written, which saves ~300 B of CloudWatch Logs ingestion per invocation; INFO brings them back (e.g. to read init durations)",
  },
  tracing: {
    schema: bool.default(false),
    description:
      "X-Ray active tracing on every function (off by default: ~$5 per million traces recorded; docs/decisions.md)",
  },
  deliveryBatchingWindowSeconds: {
    schema: int(0, 20).default(DELIVERY_BATCHING_WINDOW_SECONDS),
    description:
      "`MaximumBatchingWindowInSeconds` of both delivery lanes' event source mappings (0–20): how long Lambda gathers jobs for a batch of up to 10; every first attempt may wait this long (docs/decisions.md has the measured trade-off)",
  },
  routerBatchingWindowSeconds: {
    schema: int(0, 20).default(ROUTER_BATCHING_WINDOW_SECONDS),
    description:
      '`MaximumBatchingWindowInSeconds` of the router queue\'s event source mapping (0–20): how long Lambda gathers events for a batch of up to 10 before routing them; every event may wait this long before its jobs are enqueued. The events of a batch share their SendMessageBatch requests: fewer router invocations, deletes, sends and delivery receives at volume (docs/decisions.md, "Cost, round 3", has the measured trade-off; 0 routes each event as soon as a poller has it)',
  },
  pointInTimeRecovery: {
    schema: bool.default(true),
    description:
      'DynamoDB point-in-time recovery on the main table (subscriptions, access keys, counters, portal links, the run-time catalogue). The delivery records are in a table of their own without it (docs/data-model.md, "Splitting the delivery records out")',
  },
  capacityMode: {
    schema: z.enum(CAPACITY_MODES, { message: "must be on-demand or provisioned" }).default("on-demand"),
    description:
      'DynamoDB capacity of the deliveries table (the main table is always on-demand): `on-demand` (pay per request, no planning) or `provisioned` with auto scaling (cheaper per request at a steady load; docs/deploy.md, "Capacity: on-demand or provisioned")',
  },
  provisionedTargetUtilization: {
    schema: int(20, 90).optional(),
    defaultText: `70` + " (with `capacityMode=provisioned`)",
    description:
      "provisioned capacity: the auto scaling target utilisation in percent (20–90) of the deliveries table's read and write capacity",
  },
  provisionedMinWriteCapacity: {
    schema: int(1, 40_000).optional(),
    defaultText: `5` + " (with `capacityMode=provisioned`)",
    description:
      "provisioned capacity: the deliveries table's minimum write capacity units (the main table is on-demand)",
  },
  provisionedMaxWriteCapacity: {
    schema: int(1, 40_000).optional(),
    defaultText: `2000` + " (with `capacityMode=provisioned`)",
    description: "provisioned capacity: the deliveries table's maximum write capacity units",
  },
  provisionedMinReadCapacity: {
    schema: int(1, 40_000).optional(),
    defaultText: `5` + " (with `capacityMode=provisioned`)",
    description:
      "provisioned capacity: the deliveries table's minimum read capacity units (the main table is on-demand)",
  },
  provisionedMaxReadCapacity: {
    schema: int(1, 40_000).optional(),
    defaultText: `4000` + " (with `capacityMode=provisioned`)",
    description: "provisioned capacity: the deliveries table's maximum read capacity units",
  },
  warmWriteUnitsPerSecond: {
    schema: int(1, 40_000).optional(),
    description:
      "warm throughput for a launch: write units per second the deliveries table is pre-warmed to handle at once (either capacity mode)",
    defaultText: "— (DynamoDB's default warm throughput)",
  },
  warmReadUnitsPerSecond: {
    schema: int(1, 40_000).optional(),
    description:
      "warm throughput for a launch: read units per second the deliveries table is pre-warmed to handle at once (either capacity mode)",
    defaultText: "— (DynamoDB's default warm throughput)",
  },
  alarmEmail: {
    schema: z.email({ message: "must be an e-mail address" }).optional(),
    description:
      "subscribe this address to the stage's alarm topic (every alarm notifies it); not with `alarmTopicArn`",
    defaultText: "— (the topic is created with no subscription)",
  },
  alarmTopicArn: {
    schema: z
      .string()
      .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, "must be an SNS topic ARN")
      .optional(),
    description: "send every alarm to this existing SNS topic instead of the stage's own",
    defaultText: "— (the stage's topic `voipbin-webhooks-alarms-<stage>`)",
  },
  corsAllowedOrigins: {
    schema: list.pipe(z.array(origin)).default([]),
    description: "origins allowed to call the API from a browser (comma-separated)",
    defaultText: "— (CORS off: the API is for servers)",
  },
  apiRateLimit: {
    schema: int(1, 10_000).default(100),
    description: "steady-state requests per second the API stage accepts (all customers together)",
  },
  apiBurstLimit: {
    schema: int(1, 5000).default(200),
    description: "burst of requests the API stage accepts",
  },
  fixedEgress: {
    schema: bool.default(false),
    description:
      'run the delivery function in a VPC behind NAT gateways with Elastic IPs, so every delivery leaves from a fixed address (stack outputs `EgressAddress1…`); costs NAT gateway hours and per-GB processing (docs/deploy.md, "Fixed egress")',
  },
  fixedEgressAzs: {
    schema: int(1, 2).default(2),
    description:
      "with `fixedEgress`: availability zones used, one NAT gateway and one Elastic IP each (1–2: the stack is environment-agnostic, so CDK picks at most two zones; 1 is cheaper, loses egress when that zone fails)",
  },
  wayBack: {
    schema: z.enum(["none", "sqs", "https"], { message: "must be none, sqs or https" }).default("none"),
    description:
      'send the system\'s operational events (`webhook_*`, source `voipbin.webhooks`) back to VoIPBIN: `sqs` (a queue VoIPBIN polls) or `https` (an EventBridge API destination); alarmed on failure (docs/deploy.md, "The way back")',
  },
  wayBackEndpoint: {
    schema: z
      .string()
      .regex(/^https:\/\/[^\s/]+(\/\S*)?$/, "must be an https:// URL")
      .optional(),
    description: "with `wayBack=https`: VoIPBIN's endpoint that receives each operational event (POST)",
    defaultText: "—",
  },
  wayBackApiKeySecretArn: {
    schema: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/,
        "must be a Secrets Manager secret ARN",
      )
      .optional(),
    description:
      "with `wayBack=https`: the secret whose value the API destination's connection sends as `x-api-key`",
    defaultText: "—",
  },
  wayBackConsumerArn: {
    schema: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/, "must be an IAM role or user ARN")
      .optional(),
    description: "with `wayBack=sqs`: the IAM principal (VoIPBIN's poller) allowed to receive and delete",
    defaultText: "— (grant access yourself)",
  },
} as const satisfies Record<string, SettingSpec>;

type SettingKey = keyof typeof SETTINGS;
type SettingValues = { -readonly [K in SettingKey]: z.output<(typeof SETTINGS)[K]["schema"]> };
type AsProp<T> = T extends readonly (infer E)[] ? readonly E[] : NonNullable<T>;

/** The stack's props: every setting, optional, typed by its schema's output. */
export type WebhooksSettings = { readonly [K in SettingKey]?: AsProp<SettingValues[K]> };

/** Every setting with its default applied, plus what is derived from them. */
export type ResolvedSettings = Readonly<
  Omit<SettingValues, "eventBusName" | "existingEventBusName" | "deliveryReservedConcurrency">
> & {
  /** Set, or derived from the mappings' concurrency (`deliveryReservedConcurrencyFloor`). */
  readonly deliveryReservedConcurrency: number;
  /** `dev` and `dev-*` stages: resources are destroyed with the stack. */
  readonly isDevStage: boolean;
  /** The bus the stack creates, or the existing bus it attaches to. */
  readonly eventBusName: string;
  /** Whether `eventBusName` names an existing bus to attach to. */
  readonly attachToExistingBus: boolean;
};

/** The keys an operator may set; anything else that looks like a setting is reported as a typo. */
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

const settingsSchema = z.object(
  Object.fromEntries(SETTING_KEYS.map((key) => [key, SETTINGS[key].schema])) as {
    [K in SettingKey]: (typeof SETTINGS)[K]["schema"];
  },
);

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
  problems.push(...wayBackProblems(input));
  if (input.fixedEgressAzs !== undefined && !isTrue(input.fixedEgress)) {
    problems.push("fixedEgressAzs: applies only with fixedEgress=true");
  }
  let reservedFloor: number | undefined;
  if (result.success) {
    const { deliveryMaxConcurrency, slowLaneMaxConcurrency, deliveryReservedConcurrency } =
      result.data as SettingValues;
    reservedFloor = deliveryReservedConcurrencyFloor(deliveryMaxConcurrency, slowLaneMaxConcurrency);
    if (deliveryReservedConcurrency !== undefined && deliveryReservedConcurrency < reservedFloor) {
      problems.push(
        `deliveryReservedConcurrency: must be at least ${reservedFloor} (deliveryMaxConcurrency ${deliveryMaxConcurrency} + slowLaneMaxConcurrency ${slowLaneMaxConcurrency} + 1 for the backstop pass): below it Lambda throttles the mappings' batches, and each throttled batch counts as a receive of its messages (got ${deliveryReservedConcurrency})`,
      );
    }
  }
  if (result.success) {
    const { payloadRetentionDays, deliveryRetentionDays } = result.data as SettingValues;
    problems.push(
      ...crossSettingProblems({
        PAYLOAD_RETENTION_DAYS: payloadRetentionDays,
        DELIVERY_RETENTION_DAYS: deliveryRetentionDays,
      }).map((problem) =>
        problem
          .replaceAll("PAYLOAD_RETENTION_DAYS", "payloadRetentionDays")
          .replaceAll("DELIVERY_RETENTION_DAYS", "deliveryRetentionDays"),
      ),
    );
  }
  problems.push(...capacityProblems(input));
  if (!result.success || problems.length > 0 || reservedFloor === undefined) {
    throw new InvalidSettingsError(problems);
  }

  const { eventBusName, existingEventBusName, ...values } = result.data as SettingValues;
  return {
    ...values,
    deliveryReservedConcurrency: values.deliveryReservedConcurrency ?? reservedFloor,
    ...(values.capacityMode === "provisioned"
      ? { ...PROVISIONED_DEFAULTS, ...definedOnly(values as SettingValues) }
      : {}),
    isDevStage: values.stage === "dev" || values.stage.startsWith("dev-"),
    eventBusName: existingEventBusName ?? eventBusName ?? resourceNamesFor(values.stage).eventBus,
    attachToExistingBus: existingEventBusName !== undefined,
  };
}

const isTrue = (value: unknown) => value === true || value === "true";

/** The way back's settings must agree with its target (every problem listed). */
function wayBackProblems(input: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const target = input.wayBack ?? "none";
  if (target === "https") {
    if (input.wayBackEndpoint === undefined) problems.push("wayBackEndpoint: required with wayBack=https");
    if (input.wayBackApiKeySecretArn === undefined)
      problems.push("wayBackApiKeySecretArn: required with wayBack=https (the API key VoIPBIN checks)");
  } else {
    if (input.wayBackEndpoint !== undefined)
      problems.push("wayBackEndpoint: applies only with wayBack=https");
    if (input.wayBackApiKeySecretArn !== undefined)
      problems.push("wayBackApiKeySecretArn: applies only with wayBack=https");
  }
  if (target !== "sqs" && input.wayBackConsumerArn !== undefined)
    problems.push("wayBackConsumerArn: applies only with wayBack=sqs");
  return problems;
}

/** The provisioned-capacity settings: only with `capacityMode=provisioned`, each minimum ≤ its maximum. */
const PROVISIONED_KEYS = [
  "provisionedTargetUtilization",
  "provisionedMinWriteCapacity",
  "provisionedMaxWriteCapacity",
  "provisionedMinReadCapacity",
  "provisionedMaxReadCapacity",
] as const;

function definedOnly(
  values: Partial<Record<(typeof PROVISIONED_KEYS)[number], number | undefined>>,
): Partial<Record<(typeof PROVISIONED_KEYS)[number], number>> {
  return Object.fromEntries(
    PROVISIONED_KEYS.filter((key) => values[key] !== undefined).map((key) => [key, values[key]]),
  );
}

/** The provisioned-capacity defaults, applied when `capacityMode=provisioned`. */
export const PROVISIONED_DEFAULTS = {
  provisionedTargetUtilization: 70,
  provisionedMinWriteCapacity: 5,
  provisionedMaxWriteCapacity: 2000,
  provisionedMinReadCapacity: 5,
  provisionedMaxReadCapacity: 4000,
} as const satisfies Record<(typeof PROVISIONED_KEYS)[number], number>;

/**
 * The capacity settings' cross-checks, from each setting that parses on its own (so that they are
 * reported beside any other problem of the same input).
 */
function capacityProblems(input: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const parsed = (key: "capacityMode" | (typeof PROVISIONED_KEYS)[number]) => {
    const result = SETTINGS[key].schema.safeParse(input[key]);
    return result.success ? result.data : undefined;
  };
  const values = {
    capacityMode: parsed("capacityMode"),
    ...Object.fromEntries(PROVISIONED_KEYS.map((key) => [key, parsed(key)])),
  } as Pick<SettingValues, "capacityMode" | (typeof PROVISIONED_KEYS)[number]>;
  if (values.capacityMode === undefined) return problems;
  if (values.capacityMode !== "provisioned") {
    const set = PROVISIONED_KEYS.filter((key) => input[key] !== undefined);
    if (set.length > 0) {
      problems.push(
        `${set.join(", ")}: only with capacityMode=provisioned (capacityMode is ${values.capacityMode})`,
      );
    }
    return problems;
  }
  const v = { ...PROVISIONED_DEFAULTS, ...definedOnly(values) };
  if (v.provisionedMinWriteCapacity > v.provisionedMaxWriteCapacity) {
    problems.push(
      `provisionedMinWriteCapacity (${v.provisionedMinWriteCapacity}) must not exceed provisionedMaxWriteCapacity (${v.provisionedMaxWriteCapacity})`,
    );
  }
  if (v.provisionedMinReadCapacity > v.provisionedMaxReadCapacity) {
    problems.push(
      `provisionedMinReadCapacity (${v.provisionedMinReadCapacity}) must not exceed provisionedMaxReadCapacity (${v.provisionedMaxReadCapacity})`,
    );
  }
  return problems;
}

/**
 * The least reserved concurrency the delivery function may have: every mapping's `MaximumConcurrency`
 * at once, plus the scheduled backstop pass (an asynchronous invocation of the same function). Below
 * it the mappings' batches are throttled, and a throttled batch's messages come back after their
 * visibility timeout with their receive count up by one (Lambda Developer Guide, "Configuring scaling
 * behavior for SQS event source mappings" and "Handling errors for an SQS event source").
 */
export function deliveryReservedConcurrencyFloor(mainLane: number, slowLane: number): number {
  return mainLane + slowLane + 1;
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
 * The environment every function gets from the settings (each setting with an `env`), in the format
 * `shared/config.ts` parses; an empty list is left out (the variable's default is the empty list).
 */
export function functionSettingsEnvironment(
  settings: ResolvedSettings,
): Readonly<Partial<Record<keyof AppConfig, string>>> {
  const environment: Partial<Record<keyof AppConfig, string>> = { EVENT_BUS_NAME: settings.eventBusName };
  for (const key of SETTING_KEYS) {
    const spec: SettingSpec = SETTINGS[key];
    if (spec.env === undefined || key === "eventBusName" || key === "existingEventBusName") continue;
    const value = (settings as Record<string, unknown>)[key];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    environment[spec.env] = Array.isArray(value) ? value.join(",") : String(value);
  }
  return environment;
}

/** Resolved settings as stack props (what `resolveSettings` turns back into the same settings). */
export function settingsAsProps(settings: ResolvedSettings): WebhooksSettings {
  const props: Record<string, unknown> = settings.attachToExistingBus
    ? { existingEventBusName: settings.eventBusName }
    : { eventBusName: settings.eventBusName };
  for (const key of SETTING_KEYS) {
    if (key === "eventBusName" || key === "existingEventBusName") continue;
    // A default that only applies with its switch on is not handed back as if it had been set.
    if (key === "fixedEgressAzs" && !settings.fixedEgress) continue;
    const value = (settings as Record<string, unknown>)[key];
    if (value !== undefined) props[key] = value;
  }
  return props as WebhooksSettings;
}

/** A setting's default as the docs show it: the schema's own default, or the spec's words. */
export function settingDefaultText(key: SettingKey): string {
  const spec: SettingSpec = SETTINGS[key];
  if (spec.defaultText !== undefined) return spec.defaultText;
  return formatValue(spec.schema.parse(undefined));
}

/** A value the way an operator would type it on the command line. */
export function formatValue(value: unknown): string {
  if (value === undefined) return "—";
  if (Array.isArray(value)) return value.length === 0 ? "empty" : `\`${value.join(",")}\``;
  return `\`${String(value)}\``;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
