import path from "node:path";
import * as z from "zod";
import { configSchema, loadConfig, retryScheduleSchema } from "#shared/config.ts";
import { ConfigError } from "#shared/domain/errors.ts";
import { DEFAULT_RESOURCE_NAMES } from "#shared/resources.ts";
import { parseCommandLine, UsageError } from "../scripts/lib/cli.ts";
import { LOCAL_DEFAULTS, LOCAL_HOST } from "../scripts/lib/local-stack.ts";

/**
 * What the local stack itself is configured with (PRODUCT §7): ports, persistence, and the few
 * values it sets for the functions where the local defaults differ from a deployment's. Everything
 * else the functions read (DELIVERY_TIMEOUT_MS, RETRY_JITTER, …) passes through from the
 * environment to shared/config.ts unchanged.
 */

/** The repository root, so that `.data/` and the fixtures do not depend on the working directory. */
export const REPO_ROOT = path.resolve(import.meta.dirname, "..");

/** What `npm start` prints once everything is up; scripts and the end-to-end tests wait for it. */
export const READY_LINE = "voipbin-webhooks local stack is ready";

const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);

const localEnvSchema = z.object({
  API_PORT: port(LOCAL_DEFAULTS.API_PORT),
  EVENTS_PORT: port(LOCAL_DEFAULTS.EVENTS_PORT),
  DYNAMODB_PORT: port(LOCAL_DEFAULTS.DYNAMODB_PORT),
  SQS_PORT: port(LOCAL_DEFAULTS.SQS_PORT),
  RETRY_SCHEDULE: z.prefault(retryScheduleSchema, LOCAL_DEFAULTS.RETRY_SCHEDULE),
  AWS_REGION: z.string().min(1).default(LOCAL_DEFAULTS.AWS_REGION),
  EVENT_BUS_NAME: z.string().min(1).default(DEFAULT_RESOURCE_NAMES.eventBus),
  /** Where dynalite keeps its LevelDB files unless --in-memory. */
  DATA_DIR: z.string().min(1).default(path.join(REPO_ROOT, ".data")),
  /** The most pollers of the delivery queue (5 to start, more while a backlog lasts), each running one delivery invocation at a time. */
  DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(LOCAL_DEFAULTS.DELIVERY_CONCURRENCY),
  /** Pollers of fair delivery's slow lane (the deployed slow-lane mapping's maxConcurrency). */
  SLOW_LANE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(LOCAL_DEFAULTS.SLOW_LANE_CONCURRENCY),
  /** In-flight messages per queue before the local SQS answers receives with OverLimit / empty long polls. */
  SQS_INFLIGHT_LIMIT: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(LOCAL_DEFAULTS.SQS_INFLIGHT_LIMIT),
  /**
   * Seconds before the router's asynchronous retries, Lambda's 60,120 unless set: one or two
   * (Lambda retries at most twice), so that a demo or a test sees a retry without waiting minutes.
   */
  ROUTER_RETRY_DELAYS: z
    .string()
    .regex(/^\d{1,5}(,\d{1,5})?$/, "one or two whole numbers of seconds, comma-separated (e.g. 60,120)")
    .optional(),
});

export interface LocalStackSettings {
  readonly ports: {
    readonly api: number;
    readonly events: number;
    readonly dynamodb: number;
    readonly sqs: number;
  };
  readonly host: string;
  readonly region: string;
  readonly inMemory: boolean;
  /** The dynalite directory (absolute); unused when inMemory. */
  readonly dataDir: string;
  readonly retrySchedule: readonly number[];
  readonly eventBusName: string;
  readonly deliveryConcurrency: number;
  /** The local SQS's in-flight quota per queue (SQS_INFLIGHT_LIMIT). @default LOCAL_DEFAULTS.SQS_INFLIGHT_LIMIT */
  readonly sqsInFlightLimit?: number;
  /**
   * The router's retries, shortened (ROUTER_RETRY_DELAYS), so that tests watch an event reach the
   * router-failed queue in seconds: the router queue retries a failed event once per value, after the
   * longest (its visibility timeout); a direct asynchronous invocation after each value. Unset: a
   * deployment's router queue (ROUTER_QUEUE: 180 s, 5 receives) and Lambda's async retries (60, 120 s).
   */
  readonly routerRetryDelaysMs?: readonly number[];
  /** Pollers of the slow lane (docs/local.md, "Fair delivery"). @default LOCAL_DEFAULTS.SLOW_LANE_CONCURRENCY */
  readonly slowLaneConcurrency?: number;
}

export { UsageError };

/**
 * Variables the local stack sets for its functions itself: a process that starts `npm start` as a
 * child (a test run, the chaos run's crash stage) must not pass its own on to it.
 */
export const STACK_OWNED_VARIABLES = [
  "TABLE_NAME",
  "DELIVERIES_TABLE_NAME",
  "DELIVERY_QUEUE_URL",
  "DELIVERY_DLQ_URL",
  "DELIVERY_BACKSTOP_QUEUE_URL",
  "UNROUTABLE_QUEUE_URL",
  "NODE_OPTIONS",
] as const;

/** `npm start`'s port variables for these ports. */
export function portVariables(ports: LocalStackSettings["ports"]): Record<string, string> {
  return {
    API_PORT: String(ports.api),
    EVENTS_PORT: String(ports.events),
    DYNAMODB_PORT: String(ports.dynamodb),
    SQS_PORT: String(ports.sqs),
  };
}

const parseLocalCommandLine = (argv: readonly string[]) =>
  parseCommandLine({
    args: [...argv],
    options: {
      "in-memory": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: false,
  });

export const USAGE = `Usage: npm start [-- --in-memory]

  --in-memory   keep the table and the queues in memory: nothing is read or written under DATA_DIR
                (default .data/), every start is empty, and any number of stacks may run at once
  --help        this text

Environment (defaults in brackets): API_PORT [3000], EVENTS_PORT [4010], DYNAMODB_PORT [4011],
SQS_PORT [4012], RETRY_SCHEDULE [1,2,4], ALLOWED_CIDRS [127.0.0.0/8,::1/128], ALLOW_HTTP_URLS [true],
EVENT_BUS_NAME [voipbin-events], DATA_DIR [.data], DELIVERY_CONCURRENCY [${LOCAL_DEFAULTS.DELIVERY_CONCURRENCY}],
SLOW_LANE_CONCURRENCY [${LOCAL_DEFAULTS.SLOW_LANE_CONCURRENCY}], SQS_INFLIGHT_LIMIT [${LOCAL_DEFAULTS.SQS_INFLIGHT_LIMIT}],
ROUTER_RETRY_DELAYS [180,180,180,180 on the router queue; 60,120 for direct async invokes], AWS_REGION [us-east-1];
every other variable of docs/configuration.md is passed to the functions as is.`;

/** Reads the command line and the environment; throws UsageError or ConfigError with every problem. */
export function loadLocalSettings(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
): LocalStackSettings | "help" {
  let commandLine: ReturnType<typeof parseLocalCommandLine>;
  try {
    commandLine = parseLocalCommandLine(argv);
  } catch (error) {
    throw error instanceof UsageError ? new UsageError(`${error.message}\n\n${USAGE}`) : error;
  }
  if (commandLine.values.help) return "help";
  const inMemory = commandLine.values["in-memory"];
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = localEnvSchema.safeParse(present);
  // Every problem in one round: the stack's own settings, and what the functions will read at cold
  // start (checked now with the values the stack fills in), before anything starts.
  const problems = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`)),
    ...functionConfigProblems(present),
  ];
  if (parsed.success) {
    const s = parsed.data;
    const fixed = [s.API_PORT, s.EVENTS_PORT, s.DYNAMODB_PORT, s.SQS_PORT].filter((p) => p !== 0);
    if (new Set(fixed).size !== fixed.length) {
      problems.push("API_PORT, EVENTS_PORT, DYNAMODB_PORT and SQS_PORT must differ");
    }
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError([...new Set(problems)]);
  const s = parsed.data;
  return {
    ports: { api: s.API_PORT, events: s.EVENTS_PORT, dynamodb: s.DYNAMODB_PORT, sqs: s.SQS_PORT },
    host: LOCAL_HOST,
    region: s.AWS_REGION,
    inMemory,
    dataDir: path.resolve(s.DATA_DIR),
    retrySchedule: s.RETRY_SCHEDULE,
    eventBusName: s.EVENT_BUS_NAME,
    deliveryConcurrency: s.DELIVERY_CONCURRENCY,
    slowLaneConcurrency: s.SLOW_LANE_CONCURRENCY,
    sqsInFlightLimit: s.SQS_INFLIGHT_LIMIT,
    ...(s.ROUTER_RETRY_DELAYS === undefined
      ? {}
      : { routerRetryDelaysMs: s.ROUTER_RETRY_DELAYS.split(",").map((seconds) => Number(seconds) * 1000) }),
  };
}

/**
 * What shared/config.ts would refuse in the functions' environment, given that the stack sets the
 * table, queue and endpoint variables itself (placeholders stand in for those here).
 */
function functionConfigProblems(present: Record<string, string | undefined>): string[] {
  const placeholder = "http://127.0.0.1:1/000000000000/placeholder";
  // Every queue URL and endpoint is the stack's to set.
  const stackSet = Object.keys(configSchema.shape).filter((name) => /_(URL|ENDPOINT)$/.test(name));
  const env = {
    ...present,
    ...Object.fromEntries(stackSet.map((name) => [name, placeholder])),
    TABLE_NAME: DEFAULT_RESOURCE_NAMES.table,
    DELIVERIES_TABLE_NAME: DEFAULT_RESOURCE_NAMES.deliveriesTable,
    ALLOWED_CIDRS: present.ALLOWED_CIDRS ?? LOCAL_DEFAULTS.ALLOWED_CIDRS,
    ALLOW_HTTP_URLS: present.ALLOW_HTTP_URLS ?? LOCAL_DEFAULTS.ALLOW_HTTP_URLS,
  };
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}
