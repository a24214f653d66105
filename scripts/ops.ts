/**
 * Operator CLI for parked work (PRODUCT §1, the operators): `npm run ops -- <kind> <action> …`.
 *
 *   dead-letters  list | show <message id> | redrive | reconcile   deliveries that exhausted their schedule
 *   unroutable    list | show <message id> | redrive   events the router parked with a reason
 *   router-failed list | show <message id> | redrive   events the router failed on (Lambda's records)
 *   ingest-dlq    list | show <message id> | redrive   events EventBridge could not hand to the router
 *   unroutable    drift                                 the unknown types parked, with counts (scripts/ops/catalogue.ts)
 *   event-types   list | add | remove                   event types added at run time
 *   shadow export, legacy import                      the VoIPBIN cutover (scripts/ops/cutover.ts)
 *   erase --customer <id> [--resource <id>]           erase stored data (scripts/ops/erase.ts)
 *
 * Redrive never re-puts an event on the bus: it invokes the router with the original event (id,
 * time and source kept), so every webhook-id stays the same and deliveries that already succeeded
 * are not sent again (scripts/ops/parked-kinds.ts says why). Dead letters go back through the
 * delivery log's manual retry. A message is deleted only once its work was handed on.
 *
 * Target: the local stack by default (its SQS, DynamoDB, and the Lambda Invoke API its EventBridge
 * endpoint serves); AWS with `--aws [--stage <stage>] [--region <region>]`, with names from
 * shared/resources.ts `resourceNamesFor` (the names the CDK stack gives). stdout carries the result
 * (the table, the JSON, the summary); progress goes to stderr. Exit codes: 0 done, 1 something
 * failed (the summary says what), 2 bad usage.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { BackstopQueue, DeadLetterQueue, DeliveryQueue } from "#shared/adapters/delivery-queue.ts";
import { DeliveryRepository } from "#shared/adapters/dynamodb/deliveries.ts";
import { DeliveryTables } from "#shared/adapters/dynamodb/delivery-tables.ts";
import { EventTypeRepository } from "#shared/adapters/dynamodb/event-types.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { configSchema } from "#shared/config.ts";
import { BACKSTOP_RECONCILE_MINUTES, DEFAULT_RESOURCE_NAMES, resourceNamesFor } from "#shared/resources.ts";
import { reconcileBackstopArrivals } from "#shared/services/delivery/backstop.ts";
import { DeliveryLogService } from "#shared/services/delivery-log.ts";
import { parseCommandLine, UsageError } from "./lib/cli.ts";
import { LOCAL_DEFAULTS, LOCAL_HOST, localCredentials } from "./lib/local-stack.ts";
import { EVENT_TYPES_USAGE, parseEventTypesCommand, runDrift, runEventTypes } from "./ops/catalogue.ts";
import { CUTOVER_USAGE, runCutoverCommand } from "./ops/cutover.ts";
import { ERASE_USAGE, type EraseTarget, parseEraseCommand, runErase } from "./ops/erase.ts";
import {
  describeError,
  PARKED_KINDS,
  type ParkedKind,
  type RedrivePlan,
  redrivePlan,
  summarize,
} from "./ops/parked-kinds.ts";
import { type ParkedMessage, ParkedQueue, QueueNotFoundError } from "./ops/parked-queue.ts";
import {
  formatSplitStatus,
  parseSplitStatusCommand,
  SPLIT_STATUS_USAGE,
  splitStatus,
} from "./ops/split-status.ts";
import { formatTable } from "./text-table.ts";

const DEFAULT_LIMIT = 1000;

const USAGE = `Usage: npm run ops -- <kind> <action> [options]

Kinds and actions:
  dead-letters  list | show <message id> | redrive | reconcile
                                                      dead deliveries (the delivery DLQ)
  unroutable    list | show <message id> | redrive | drift
                                                      events the router parked, with the reason; drift: the
                                                      unknown types among them, with counts and first/last seen
${EVENT_TYPES_USAGE}
  router-failed list | show <message id> | redrive    events the router failed on after Lambda's retries
  ingest-dlq    list | show <message id> | redrive    events EventBridge could not hand to the router (AWS only)

The VoIPBIN cutover (docs/cutover.md):
${CUTOVER_USAGE}

Erasure (docs/security.md):
${ERASE_USAGE}

The delivery records' own table (docs/data-model.md, "Splitting the delivery records out"):
${SPLIT_STATUS_USAGE}

  redrive: dead letters are retried like POST /v1/deliveries/{id}/retry; events are replayed by
  invoking the router with the ORIGINAL event (same id, so the same webhook-ids; deliveries that
  already succeeded are not sent again). A message is deleted once its work is handed on; one that
  fails stays, and the summary says why.

  reconcile (dead-letters): jobs SQS's maxReceiveCount backstop moved to the backstop queue are
  closed as dead (reason internal) and moved to the DLQ with that reason. Long-polls the backstop
  queue until it answers empty. The delivery function runs this every ${BACKSTOP_RECONCILE_MINUTES} minutes on AWS,
  the local stack likewise; this runs one pass now.

Options:
  --limit <n>       at most n messages (default ${DEFAULT_LIMIT})
  --type <type>     unroutable redrive: only the events of this type (after event-types add)
  --dry-run         redrive, reconcile, erase: say what would be done, change nothing
  --json            list/show: JSON (one object per line for list)
  --aws             act on AWS instead of the local stack (AWS_REGION and the usual credentials)
  --stage <stage>   with --aws: the deployment stage (default prod); names from shared/resources.ts
  --region <name>   with --aws: instead of AWS_REGION
  --help, -h        this text

Local stack (default): SQS_ENDPOINT or http://${LOCAL_HOST}:\${SQS_PORT:-${LOCAL_DEFAULTS.SQS_PORT}}, DYNAMODB_ENDPOINT or
http://${LOCAL_HOST}:\${DYNAMODB_PORT:-${LOCAL_DEFAULTS.DYNAMODB_PORT}}, Lambda LAMBDA_ENDPOINT or http://${LOCAL_HOST}:\${EVENTS_PORT:-${LOCAL_DEFAULTS.EVENTS_PORT}}.

Exit codes: 0 done, 1 something failed, 2 bad usage.`;

interface Options {
  readonly kind: ParkedKind;
  readonly action: "list" | "show" | "redrive" | "reconcile" | "drift";
  readonly type?: string;
  readonly messageId?: string;
  readonly limit: number;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly aws: boolean;
  readonly stage: string;
  readonly region: string | undefined;
}

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options | "help" {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    allowPositionals: true,
    options: {
      limit: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      aws: { type: "boolean" },
      stage: { type: "string" },
      region: { type: "string" },
      type: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true || positionals[0] === "help") return "help";
  const problems: string[] = [];
  const [kind, action, messageId, ...extra] = positionals;
  if (kind === undefined) problems.push(`a kind is required: ${PARKED_KINDS.join(", ")}`);
  else if (!(PARKED_KINDS as readonly string[]).includes(kind))
    problems.push(`unknown kind "${kind}" (${PARKED_KINDS.join(", ")})`);
  if (kind !== undefined && action === undefined)
    problems.push("an action is required: list, show, redrive, reconcile or drift");
  else if (action !== undefined && !["list", "show", "redrive", "reconcile", "drift"].includes(action))
    problems.push(`unknown action "${action}" (list, show, redrive, reconcile or drift)`);
  if (action === "drift" && kind !== undefined && kind !== "unroutable")
    problems.push("drift applies to unroutable (the events the router parked)");
  if (values.type !== undefined && !(kind === "unroutable" && action === "redrive"))
    problems.push("--type applies to unroutable redrive");
  if (action === "reconcile" && kind !== undefined && kind !== "dead-letters")
    problems.push("reconcile applies to dead-letters (the delivery DLQ)");
  if (action === "show" && messageId === undefined)
    problems.push("show needs a message id: show <message id>");
  if (action !== "show" && messageId !== undefined) problems.push(`unexpected argument "${messageId}"`);
  if (extra.length > 0) problems.push(`unexpected argument "${extra[0]}"`);
  let limit = DEFAULT_LIMIT;
  if (values.limit !== undefined) {
    limit = /^\d+$/.test(values.limit) ? Number(values.limit) : Number.NaN;
    if (!Number.isInteger(limit) || limit < 1)
      problems.push(`--limit takes a whole number ≥ 1, not "${values.limit}"`);
  }
  if (values.limit !== undefined && action === "reconcile")
    problems.push("--limit does not apply to reconcile (a pass runs until the backstop queue is empty)");
  if (values["dry-run"] === true && (action === "list" || action === "show"))
    problems.push("--dry-run applies to redrive and reconcile (list and show change nothing)");
  if (values.json === true && (action === "redrive" || action === "reconcile"))
    problems.push("--json applies to list, show and drift");
  const aws = values.aws === true;
  if (!aws && (values.stage !== undefined || values.region !== undefined))
    problems.push("--stage and --region apply to --aws (the local stack has one set of names)");
  if (values.stage !== undefined && !/^[a-z][a-z0-9-]{0,19}$/.test(values.stage))
    problems.push(`--stage "${values.stage}" is not a stage name (lowercase letters, digits and '-')`);
  if (aws) {
    for (const variable of ["SQS_ENDPOINT", "DYNAMODB_ENDPOINT", "LAMBDA_ENDPOINT"]) {
      if (env[variable]) problems.push(`--aws talks to AWS itself: unset ${variable}, or drop --aws`);
    }
    if (!values.region && !env.AWS_REGION && !env.AWS_DEFAULT_REGION)
      problems.push("--aws needs a region: --region, AWS_REGION or AWS_DEFAULT_REGION");
  }
  if (kind === "ingest-dlq" && !aws && action !== undefined)
    problems.push("ingest-dlq is AWS only: the local bus hands events to the router itself (use --aws)");
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return {
    kind: kind as ParkedKind,
    action: action as Options["action"],
    ...(messageId !== undefined ? { messageId } : {}),
    ...(values.type !== undefined ? { type: values.type } : {}),
    limit,
    dryRun: values["dry-run"] === true,
    json: values.json === true,
    aws,
    stage: values.stage ?? "prod",
    region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
  };
}

/** Where the parked work lives and what acts on it: the local stack's or a stage's on AWS. */
interface Target {
  readonly description: string;
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  /** The delivery records' table (docs/data-model.md, "Splitting the delivery records out"). */
  readonly deliveriesTableName: string;
  readonly routerFunctionName: string;
  readonly queueNames: Readonly<Record<ParkedKind, string>> & {
    readonly delivery: string;
    /** The redrive target of both delivery lanes, read by `dead-letters reconcile`. */
    readonly backstop: string;
  };
}

function createTarget(options: Pick<Options, "aws" | "stage" | "region">, env: NodeJS.ProcessEnv): Target {
  if (options.aws) {
    const names = resourceNamesFor(options.stage);
    const region = options.region;
    return {
      description: `stage ${options.stage} on AWS ${region}`,
      sqs: new SQSClient({ region }),
      lambda: new LambdaClient({ region }),
      dynamodb: new DynamoDBClient({ region }),
      tableName: names.table,
      deliveriesTableName: names.deliveriesTable,
      routerFunctionName: names.functions.router,
      queueNames: {
        "dead-letters": names.deliveryDlq,
        unroutable: names.unroutableQueue,
        "router-failed": names.routerFailedQueue,
        "ingest-dlq": names.ingestDlq,
        delivery: names.deliveryQueue,
        backstop: names.deliveryBackstop,
      },
    };
  }
  const local = (variable: string, portVariable: string, port: number) =>
    env[variable] || `http://${LOCAL_HOST}:${env[portVariable] || port}`;
  const region = env.AWS_REGION || LOCAL_DEFAULTS.AWS_REGION;
  // The local stack's emulators answer its own key only (local/stack-key.ts), found for each port.
  const common = { region, maxAttempts: 2 };
  const sqsEndpoint = local("SQS_ENDPOINT", "SQS_PORT", LOCAL_DEFAULTS.SQS_PORT);
  const lambdaEndpoint = local("LAMBDA_ENDPOINT", "EVENTS_PORT", LOCAL_DEFAULTS.EVENTS_PORT);
  const dynamodbEndpoint = local("DYNAMODB_ENDPOINT", "DYNAMODB_PORT", LOCAL_DEFAULTS.DYNAMODB_PORT);
  return {
    description: `the local stack (SQS ${sqsEndpoint})`,
    sqs: new SQSClient({ ...common, endpoint: sqsEndpoint, credentials: localCredentials(sqsEndpoint) }),
    lambda: new LambdaClient({
      ...common,
      endpoint: lambdaEndpoint,
      credentials: localCredentials(lambdaEndpoint),
    }),
    dynamodb: new DynamoDBClient({
      ...common,
      endpoint: dynamodbEndpoint,
      credentials: localCredentials(dynamodbEndpoint),
    }),
    tableName: DEFAULT_RESOURCE_NAMES.table,
    deliveriesTableName: DEFAULT_RESOURCE_NAMES.deliveriesTable,
    routerFunctionName: "router",
    queueNames: {
      "dead-letters": DEFAULT_RESOURCE_NAMES.deliveryDlq,
      unroutable: DEFAULT_RESOURCE_NAMES.unroutableQueue,
      "router-failed": DEFAULT_RESOURCE_NAMES.routerFailedQueue,
      "ingest-dlq": DEFAULT_RESOURCE_NAMES.ingestDlq,
      delivery: DEFAULT_RESOURCE_NAMES.deliveryQueue,
      backstop: DEFAULT_RESOURCE_NAMES.deliveryBackstop,
    },
  };
}

/** A progress line on stderr for long runs: rewritten in place on a terminal, every 100 otherwise. */
class Progress {
  private lastPrinted = 0;
  constructor(private readonly label: string) {}

  update(done: number, detail: string): void {
    const now = Date.now();
    if (process.stderr.isTTY) {
      if (now - this.lastPrinted < 100) return;
      process.stderr.write(`\r${this.label}: ${done} ${detail}\u001b[K`);
    } else if (done % 100 === 0) {
      process.stderr.write(`${this.label}: ${done} ${detail}\n`);
    }
    this.lastPrinted = now;
  }

  end(): void {
    if (process.stderr.isTTY && this.lastPrinted > 0) process.stderr.write("\r\u001b[K");
  }
}

type RouterResult =
  | { readonly ok: true; readonly outcome: unknown }
  | { readonly ok: false; readonly error: string };

/**
 * Invokes the router synchronously with the original event (Lambda Invoke, RequestResponse): the
 * answer says whether it routed, so a message is deleted only after its jobs were enqueued. A
 * synchronous invocation that fails is not retried by Lambda nor sent to the on-failure destination
 * (those apply to asynchronous invocations), so a failure leaves exactly the parked message.
 */
async function invokeRouter(target: Target, event: unknown): Promise<RouterResult> {
  const response = await target.lambda.send(
    new InvokeCommand({
      FunctionName: target.routerFunctionName,
      InvocationType: "RequestResponse",
      Payload: Buffer.from(JSON.stringify(event), "utf8"),
    }),
  );
  const text = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "null";
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    payload = text;
  }
  if (response.FunctionError) {
    const error = (payload ?? {}) as { errorType?: string; errorMessage?: string };
    return { ok: false, error: `${error.errorType ?? "Error"}: ${error.errorMessage ?? text}` };
  }
  return { ok: true, outcome: payload };
}

interface Tally {
  redriven: number;
  stillUnroutable: number;
  failed: number;
  unreadable: number;
  readonly problems: string[];
}

async function redrive(options: Options, target: Target, queue: ParkedQueue): Promise<number> {
  const deliveryLog = options.kind === "dead-letters" ? await deliveryLogFor(target) : undefined;
  const progress = new Progress(`${options.kind} redrive`);
  const tally: Tally = { redriven: 0, stillUnroutable: 0, failed: 0, unreadable: 0, problems: [] };
  const held: ParkedMessage[] = [];
  const replayedEvents = new Set<string>();
  let read = 0;
  try {
    for await (const message of queue.read(options.limit)) {
      read++;
      const plan: RedrivePlan = redrivePlan(options.kind, message);
      if (
        options.type !== undefined &&
        !(plan.kind === "invoke-router" && eventTypeOf(plan.event) === options.type)
      ) {
        held.push(message);
        continue;
      }
      if (plan.kind === "invoke-router" && plan.eventId !== null && replayedEvents.has(plan.eventId)) {
        // The router parked this event again earlier in this very run: it is not a new message.
        held.push(message);
        continue;
      }
      if (plan.kind === "unreadable") {
        tally.unreadable++;
        tally.problems.push(`${message.messageId}: unreadable, kept (${plan.problem})`);
        held.push(message);
      } else if (options.dryRun) {
        process.stdout.write(`would ${plan.what} [message ${message.messageId}]\n`);
        tally.redriven++;
        held.push(message);
      } else {
        const outcome = await redriveOne(plan, target, deliveryLog);
        if (outcome.ok) {
          await queue.delete(message);
          tally.redriven++;
          if (outcome.stillUnroutable !== undefined) {
            tally.stillUnroutable++;
            tally.problems.push(
              `${message.messageId}: still unroutable (${outcome.stillUnroutable}), parked again`,
            );
          }
          if (plan.kind === "invoke-router" && plan.eventId !== null) replayedEvents.add(plan.eventId);
        } else {
          tally.failed++;
          tally.problems.push(`${message.messageId}: ${outcome.error}; kept`);
          held.push(message);
        }
      }
      progress.update(read, `read, ${tally.redriven} redriven, ${tally.failed} failed`);
    }
  } finally {
    progress.end();
    await queue.release(held);
  }
  for (const problem of tally.problems) process.stderr.write(`  ${problem}\n`);
  const verb = options.dryRun ? "would be redriven" : "redriven";
  process.stdout.write(
    `${options.kind} redrive on ${target.description}: ${read} read, ${tally.redriven} ${verb}` +
      `${tally.stillUnroutable > 0 ? ` (${tally.stillUnroutable} still unroutable)` : ""}, ${tally.failed} failed, ${tally.unreadable} unreadable` +
      `${options.dryRun ? " (dry run: nothing changed)" : ""}${read === options.limit ? ` (stopped at --limit ${options.limit})` : ""}\n`,
  );
  return tally.failed > 0 || tally.unreadable > 0 ? 1 : 0;
}

type OneOutcome =
  | { readonly ok: true; readonly stillUnroutable?: string }
  | { readonly ok: false; readonly error: string };

async function redriveOne(
  plan: Exclude<RedrivePlan, { kind: "unreadable" }>,
  target: Target,
  deliveryLog: DeliveryLogService | undefined,
): Promise<OneOutcome> {
  try {
    if (plan.kind === "retry-delivery") {
      await (deliveryLog as DeliveryLogService).retry(plan.customerId, plan.deliveryId);
      return { ok: true };
    }
    const result = await invokeRouter(target, plan.event);
    if (!result.ok) return { ok: false, error: `the router failed: ${result.error}` };
    const outcome = result.outcome as { kind?: string; reason?: string } | null;
    return outcome?.kind === "unroutable"
      ? { ok: true, stillUnroutable: outcome.reason ?? "unknown" }
      : { ok: true };
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
}

const OPERATOR_REDRIVES_ARE_UNMETERED = { consume: async (): Promise<void> => undefined };

async function deliveryLogFor(target: Target): Promise<DeliveryLogService> {
  const doc = DynamoDBDocumentClient.from(target.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const deliveryQueue = await ParkedQueue.open(target.sqs, target.queueNames.delivery);
  return new DeliveryLogService({
    subscriptions: new SubscriptionRepository(doc, target.tableName),
    deliveries: new DeliveryRepository(
      doc,
      new DeliveryTables(doc, target.tableName, target.deliveriesTableName),
    ),
    queue: new DeliveryQueue(target.sqs, deliveryQueue.url),
    settings: { retentionDays: configSchema.shape.DELIVERY_RETENTION_DAYS.parse(undefined) },
    // The per-customer quotas meter what customers ask for over the API; an operator replaying dead
    // letters after an outage acts for the platform, and a thousand letters of one customer must not
    // stop at that customer's hourly retry quota.
    quotas: OPERATOR_REDRIVES_ARE_UNMETERED,
  });
}

async function list(options: Options, target: Target, queue: ParkedQueue): Promise<number> {
  const progress = new Progress(`${options.kind} list`);
  const held: ParkedMessage[] = [];
  const rows = [];
  try {
    for await (const message of queue.read(options.limit)) {
      held.push(message);
      const summary = summarize(options.kind, message);
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else rows.push(summary);
      progress.update(held.length, "read");
    }
  } finally {
    progress.end();
    await queue.release(held);
  }
  if (!options.json) {
    if (rows.length > 0) {
      const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
      process.stdout.write(
        `${formatTable([columns.map((c) => c.toUpperCase()), ...rows.map((row) => columns.map((c) => String(row[c] ?? "-")))])}\n`,
      );
    }
    process.stdout.write(
      `${held.length} ${options.kind} message${held.length === 1 ? "" : "s"} on ${target.description}${held.length === options.limit ? ` (stopped at --limit ${options.limit})` : ""}\n`,
    );
  }
  return 0;
}

/**
 * One pass of the backstop reconciliation (shared/services/delivery/backstop.ts), as the delivery
 * function runs it on its schedule: every arrival on the backstop queue is closed (`dead`,
 * `internal`) and moved to the dead-letter queue with the reason, until the backstop queue answers
 * a long poll empty.
 */
async function reconcile(options: Options, target: Target, queue: ParkedQueue): Promise<number> {
  const backstop = await ParkedQueue.open(target.sqs, target.queueNames.backstop);
  const doc = DynamoDBDocumentClient.from(target.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const problems: string[] = [];
  const result = await reconcileBackstopArrivals(
    {
      backstop: new BackstopQueue(target.sqs, backstop.url),
      deadLetters: new DeadLetterQueue(target.sqs, queue.url),
      deliveries: new DeliveryRepository(
        doc,
        new DeliveryTables(doc, target.tableName, target.deliveriesTableName),
      ),
      retentionDays: configSchema.shape.DELIVERY_RETENTION_DAYS.parse(undefined),
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message) => problems.push(message),
        error: (message, ...attributes) =>
          problems.push(
            `${message}${attributes.length > 0 ? ` ${JSON.stringify(Object.assign({}, ...attributes))}` : ""}`,
          ),
      },
    },
    // The pass ends on a 1 s long poll that comes back empty (BACKSTOP_LONG_POLL_SECONDS), as
    // `list` and `show` read the parked queues.
    { dryRun: options.dryRun },
  );
  for (const problem of problems.filter((p) => !p.startsWith("backstop arrival reconciled")))
    process.stderr.write(`  ${problem}\n`);
  process.stdout.write(
    `dead-letters reconcile on ${target.description}: ${result.examined} backstop arrivals examined, ${result.reconciled} ${options.dryRun ? "would be reconciled" : "reconciled"} (closed as dead, reason internal), ${result.unreadable} unreadable${options.dryRun ? " (dry run: nothing changed)" : ""}\n`,
  );
  return result.unreadable > 0 ? 1 : 0;
}

async function show(options: Options, target: Target, queue: ParkedQueue): Promise<number> {
  const held: ParkedMessage[] = [];
  let found: ParkedMessage | undefined;
  try {
    for await (const message of queue.read(options.limit)) {
      held.push(message);
      if (message.messageId === options.messageId) {
        found = message;
        break;
      }
    }
  } finally {
    await queue.release(held);
  }
  if (found === undefined) {
    process.stderr.write(
      `ops: no ${options.kind} message ${options.messageId} on ${target.description} (${held.length} read)\n`,
    );
    return 1;
  }
  let body: unknown = found.body;
  try {
    body = JSON.parse(found.body);
  } catch {
    // Shown as the text it is.
  }
  const shown = {
    ...summarize(options.kind, found),
    receive_count: found.receiveCount,
    attributes: found.attributes,
    body,
  };
  process.stdout.write(`${JSON.stringify(shown, null, options.json ? undefined : 2)}\n`);
  return 0;
}

/** The `detail-type` of an event a parked message carries. */
function eventTypeOf(event: unknown): string | undefined {
  const type = (event as Record<string, unknown> | null)?.["detail-type"];
  return typeof type === "string" ? type : undefined;
}

function eventTypeRepository(target: Target): EventTypeRepository {
  return new EventTypeRepository(
    DynamoDBDocumentClient.from(target.dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    target.tableName,
  );
}

/**
 * Runs a subcommand with its own parser: a usage error exits 2 with the usage hint, a failure 1 with
 * one line a person can act on; the target's clients are closed whatever happens.
 */
async function runSubcommand<C extends Pick<Options, "aws" | "stage" | "region">>(
  parse: () => C,
  env: NodeJS.ProcessEnv,
  run: (command: C, target: Target) => Promise<number>,
): Promise<number> {
  let command: C;
  try {
    command = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`ops: ${error.message}\nRun \`npm run ops -- --help\` for usage.\n`);
    return 2;
  }
  const target = createTarget(command, env);
  try {
    return await run(command, target);
  } catch (error) {
    process.stderr.write(`ops: ${describeFailure(error, target)}\n`);
    return 1;
  } finally {
    target.sqs.destroy();
    target.lambda.destroy();
    target.dynamodb.destroy();
  }
}

function eventTypesMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return runSubcommand(
    () => parseEventTypesCommand(argv, env),
    env,
    (command, target) =>
      runEventTypes(
        command,
        eventTypeRepository(target),
        command.aws ? `stage ${command.stage} on AWS ${command.region}` : "the local stack",
      ),
  );
}

/** The parked queues erase reads: all of them (the ingest DLQ exists on AWS only). */
async function eraseTarget(target: Target, aws: boolean): Promise<EraseTarget> {
  const kinds: (ParkedKind | "backstop")[] = ["dead-letters", "backstop", "unroutable", "router-failed"];
  if (aws) kinds.push("ingest-dlq");
  const queues: EraseTarget["queues"][number][] = [];
  for (const kind of kinds) {
    queues.push({ kind, queue: await ParkedQueue.open(target.sqs, target.queueNames[kind]) });
  }
  return {
    description: target.description,
    doc: DynamoDBDocumentClient.from(target.dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    tableName: target.tableName,
    deliveriesTableName: target.deliveriesTableName,
    queues,
  };
}

function eraseMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return runSubcommand(
    () => parseEraseCommand(argv, env),
    env,
    async (command, target) => runErase(command, await eraseTarget(target, command.aws)),
  );
}

function splitStatusMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return runSubcommand(
    () => parseSplitStatusCommand(argv, env),
    env,
    async (command, target) => {
      const doc = DynamoDBDocumentClient.from(target.dynamodb);
      const status = await splitStatus(
        doc,
        { main: target.tableName, deliveries: target.deliveriesTableName },
        command.retentionDays,
      );
      process.stdout.write(
        `${command.json ? JSON.stringify(status) : formatSplitStatus(status, target.description)}\n`,
      );
      return 0;
    },
  );
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv[0] === "event-types") return eventTypesMain(argv.slice(1), env);
  if (argv[0] === "split-status" && !argv.includes("--help") && !argv.includes("-h"))
    return splitStatusMain(argv.slice(1), env);
  if (argv[0] === "erase" && !argv.includes("--help") && !argv.includes("-h"))
    return eraseMain(argv.slice(1), env);
  let options: Options | "help";
  try {
    if ((argv[0] === "shadow" || argv[0] === "legacy") && !argv.includes("--help") && !argv.includes("-h")) {
      return await runCutoverCommand(argv, env);
    }
    options = parseOptions(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`ops: ${error.message}\nRun \`npm run ops -- --help\` for usage.\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const target = createTarget(options, env);
  try {
    const queue = await ParkedQueue.open(target.sqs, target.queueNames[options.kind]);
    if (options.action === "list") return await list(options, target, queue);
    if (options.action === "show") return await show(options, target, queue);
    if (options.action === "reconcile") return await reconcile(options, target, queue);
    if (options.action === "drift")
      return await runDrift(queue, eventTypeRepository(target), options, target.description);
    return await redrive(options, target, queue);
  } catch (error) {
    process.stderr.write(`ops: ${describeFailure(error, target)}\n`);
    return 1;
  } finally {
    target.sqs.destroy();
    target.lambda.destroy();
    target.dynamodb.destroy();
  }
}

/** One line a person can act on; never an SDK dump (it could quote message bodies). */
function describeFailure(error: unknown, target: Target): string {
  if (error instanceof QueueNotFoundError) return `${error.message} on ${target.description}`;
  const text = String(error);
  if (/ECONNREFUSED/.test(text) || (error as { code?: string }).code === "ECONNREFUSED") {
    return `cannot reach ${target.description}: is the local stack running (npm start)? Use --aws for a deployment`;
  }
  if (error instanceof Error && error.name === "CredentialsProviderError") {
    return `no AWS credentials found for ${target.description} (AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO …)`;
  }
  return describeError(error);
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ops: ${describeError(error)}\n`);
    process.exitCode = 1;
  },
);
