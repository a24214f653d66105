import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { styleText } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Webhook } from "standardwebhooks";
import { AccessKeyRepository } from "#shared/adapters/dynamodb/access-keys.ts";
import { CodedError } from "#shared/domain/errors.ts";
import { DEFAULT_RESOURCE_NAMES } from "#shared/resources.ts";
import { mintAccessKey, revokeAccessKey } from "#shared/services/access-keys.ts";
import { parseCommandLine, usageFailure } from "../scripts/lib/cli.ts";
import {
  LOCAL_CREDENTIALS,
  LOCAL_DEFAULTS,
  LOCAL_HOST,
  localCredentials,
} from "../scripts/lib/local-stack.ts";
import { loadSamples, sampleEntry } from "./samples.ts";
import { loadLocalSettings } from "./settings.ts";
import type { LocalStack } from "./stack.ts";

/**
 * `npm run demo`: a guided tour of the whole system through its public interfaces — an access key,
 * subscriptions to a receiver bundled here (a real HTTP server on 127.0.0.1), sample VoIPBIN events
 * put on the bus with the AWS SDK, every delivery verified with the `standardwebhooks` library, a
 * failing endpoint retried and dead-lettered, a manual retry, and the delivery log.
 *
 * It attaches to a local stack already running on API_PORT/EVENTS_PORT/DYNAMODB_PORT (defaults
 * 3000/4010/4011), or starts its own in this process (in memory, free ports, RETRY_SCHEDULE 1,1,1).
 * The access key is minted with the domain module (shared/services/access-keys.ts) straight into the
 * stack's DynamoDB, as `npm run keys -- create` does.
 */

const USAGE = `Usage: npm run demo [-- options]

  --own-stack   start a stack in this process even if one is running (in memory, free ports)
  --keep        leave the demo's subscriptions and access key in place afterwards (and print the key)
  --help        this text

Attaches to a local stack on API_PORT [3000], EVENTS_PORT [4010] and DYNAMODB_PORT [4011] when one
answers there; otherwise starts its own with RETRY_SCHEDULE [1,1,1].`;

/** The retry schedule of the demo's own stack: four attempts, about three seconds in all. */
const OWN_STACK_RETRY_SCHEDULE = "1,1,1";
/** Attached to a stack whose next retry is further away than this, the demo retries by hand instead. */
const MAX_WAIT_FOR_RETRY_MS = 30_000;
const STEP_TIMEOUT_MS = 20_000;

const useColor = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (style: Parameters<typeof styleText>[0], text: string) =>
  useColor ? styleText(style, text) : text;
const say = (line = "") => console.log(line);
const heading = (n: number, text: string) => say(`\n${paint("bold", `${n}. ${text}`)}`);
const ok = (text: string) => say(`  ${paint("green", "✓")} ${text}`);
const note = (text: string) => say(`  ${paint("dim", text)}`);
const step = (text: string) => say(`  ${paint("cyan", "→")} ${text}`);

/** Set by Ctrl-C: what fails after it is the stack going away, not worth a ✗. */
let interrupted = false;

class DemoError extends CodedError {
  override readonly name = "DemoError";
  readonly code = "DEMO_FAILED";
}

// --- Where the stack is ------------------------------------------------------------------------

interface Target {
  readonly api: string;
  readonly events: string;
  readonly dynamodb: string;
  readonly region: string;
  readonly busName: string;
  /** Set when the demo started the stack itself (then it stops it at the end). */
  readonly own?: LocalStack;
}

async function findRunningStack(): Promise<Target | undefined> {
  const port = (name: string, fallback: number) => process.env[name] || String(fallback);
  const api = `http://${LOCAL_HOST}:${port("API_PORT", LOCAL_DEFAULTS.API_PORT)}`;
  const events = `http://${LOCAL_HOST}:${port("EVENTS_PORT", LOCAL_DEFAULTS.EVENTS_PORT)}`;
  const dynamodb =
    process.env.DYNAMODB_ENDPOINT ||
    `http://${LOCAL_HOST}:${port("DYNAMODB_PORT", LOCAL_DEFAULTS.DYNAMODB_PORT)}`;
  try {
    const openapi = await fetch(`${api}/openapi.json`, { signal: AbortSignal.timeout(1500) });
    const document = (await openapi.json()) as { info?: { title?: string } };
    if (!document.info?.title?.startsWith("voipbin-webhooks")) return undefined;
    // The bus answers an empty PutEvents with its ValidationException: that is our endpoint.
    const bus = await fetch(events, {
      method: "POST",
      headers: { "x-amz-target": "AWSEvents.PutEvents", "content-type": "application/x-amz-json-1.1" },
      body: '{"Entries":[]}',
      signal: AbortSignal.timeout(1500),
    });
    // Unsigned, the probe is refused as a stranger (local/stack-key.ts): that is our endpoint too.
    const answer = bus.headers.get("x-amzn-errortype");
    if (answer !== "ValidationException" && answer !== "UnrecognizedClientException") return undefined;
  } catch {
    return undefined;
  }
  return {
    api,
    events,
    dynamodb,
    region: process.env.AWS_REGION || LOCAL_DEFAULTS.AWS_REGION,
    busName: process.env.EVENT_BUS_NAME || DEFAULT_RESOURCE_NAMES.eventBus,
  };
}

async function startOwnStack(): Promise<Target> {
  // The functions log through Powertools; only their errors belong in the tour's output.
  process.env.POWERTOOLS_LOG_LEVEL ||= "ERROR";
  const settings = loadLocalSettings(["--in-memory"], {
    ...process.env,
    API_PORT: "0",
    EVENTS_PORT: "0",
    DYNAMODB_PORT: "0",
    SQS_PORT: "0",
    RETRY_SCHEDULE: OWN_STACK_RETRY_SCHEDULE,
  });
  if (settings === "help") throw new DemoError("unreachable: no --help given");
  const { startLocalStack } = await import("./stack.ts");
  const stack = await startLocalStack(settings);
  return {
    api: stack.endpoints.api,
    events: stack.endpoints.events,
    dynamodb: stack.endpoints.dynamodb,
    region: settings.region,
    busName: stack.eventBusName,
    own: stack,
  };
}

// --- The bundled receiver ----------------------------------------------------------------------

interface Received {
  readonly path: string;
  readonly webhookId: string;
  readonly type: string;
  readonly verified: boolean;
  readonly answered: number;
}

/**
 * A customer's server: one path per subscription, each request verified with `standardwebhooks`
 * against that subscription's secret. A verified request is answered with the path's status (204
 * unless the demo made the path fail), an unverifiable one with 400.
 */
class DemoReceiver {
  readonly received: Received[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly statuses = new Map<string, number>();
  private server: Server | undefined;
  private onRequest: () => void = () => {};

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      readBody(req).then(
        (body) => {
          const path = (req.url ?? "/").split("?")[0] ?? "/";
          const headers = Object.fromEntries(
            Object.entries(req.headers).map(([name, value]) => [
              name,
              Array.isArray(value) ? value.join(", ") : (value ?? ""),
            ]),
          );
          const secret = this.secrets.get(path);
          let verified = false;
          let type = "?";
          if (secret !== undefined) {
            try {
              type = (new Webhook(secret).verify(body, headers) as { type?: string }).type ?? "?";
              verified = true;
            } catch {
              verified = false;
            }
          }
          const answered = verified ? (this.statuses.get(path) ?? 204) : 400;
          this.received.push({ path, webhookId: headers["webhook-id"] ?? "", type, verified, answered });
          res.writeHead(answered, { "content-type": "text/plain" }).end(answered < 300 ? "" : "not now");
          this.onRequest();
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once("error", reject);
      this.server?.listen(0, LOCAL_HOST, () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    return `http://${LOCAL_HOST}:${port}`;
  }

  register(path: string, secret: string): void {
    this.secrets.set(path, secret);
  }

  answer(path: string, status: number): void {
    this.statuses.set(path, status);
  }

  at(path: string): Received[] {
    return this.received.filter((request) => request.path === path);
  }

  /** Resolves once `condition` holds, re-checked on every request; fails after `timeoutMs`. */
  until(condition: () => boolean, description: string, timeoutMs = STEP_TIMEOUT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onRequest = () => {};
        reject(new DemoError(`timed out after ${timeoutMs / 1000} s waiting for ${description}`));
      }, timeoutMs);
      this.onRequest = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.onRequest = () => {};
        resolve();
      };
      this.onRequest();
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

// --- The API, as a customer calls it -------------------------------------------------------------

interface Subscription {
  readonly id: string;
  readonly secret: string;
}

interface Attempt {
  readonly at: string;
  readonly status_code: number | null;
  readonly error: string | null;
  readonly latency_ms: number;
}

interface Delivery {
  readonly id: string;
  readonly event_type: string;
  readonly webhook_id: string;
  readonly status: "pending" | "succeeded" | "failed" | "dead";
  readonly attempts: readonly Attempt[];
  readonly next_attempt_at: string | null;
  readonly created_at: string;
}

class Api {
  constructor(
    private readonly base: string,
    private readonly key: string,
  ) {}

  async call<T>(method: string, path: string, expected: number, body?: unknown): Promise<T> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.key}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status !== expected) {
      throw new DemoError(`${method} ${path} answered ${response.status} (expected ${expected}): ${text}`);
    }
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  deliveries(subscriptionId: string): Promise<{ items: Delivery[] }> {
    return this.call("GET", `/v1/subscriptions/${subscriptionId}/deliveries?limit=100`, 200);
  }
}

/** Polls `read` until `done` holds of its result; returns that result. */
async function poll<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  description: string,
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new DemoError(`timed out after ${timeoutMs / 1000} s waiting for ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// --- The tour ------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let values: { "own-stack"?: boolean; keep?: boolean; help?: boolean };
  try {
    ({ values } = parseCommandLine({
      options: {
        "own-stack": { type: "boolean" },
        keep: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    return usageFailure(error, USAGE);
  }
  if (values.help) {
    say(USAGE);
    return 0;
  }
  const began = Date.now();
  say(paint("bold", "voipbin-webhooks — a tour of the local stack"));

  heading(1, "The stack");
  let target = values["own-stack"] ? undefined : await findRunningStack();
  if (target) {
    ok(`attached to the local stack already running: API ${target.api}, bus ${target.events}`);
    note("its RETRY_SCHEDULE applies to the failing endpoint below (npm start's default: 1, 2, 4 s)");
  } else {
    step("no local stack answers on API_PORT/EVENTS_PORT: starting one in this process (in memory)");
    target = await startOwnStack();
    const own = target.own;
    process.once("SIGINT", () => {
      interrupted = true;
      say("\nInterrupted: stopping the demo's stack.");
      void own?.stop().finally(() => process.exit(130));
    });
    ok(`started: API ${target.api}, bus ${target.events}, retries after ${OWN_STACK_RETRY_SCHEDULE} s`);
  }

  const receiver = new DemoReceiver();
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: target.dynamodb,
      region: target.region,
      credentials: localCredentials(target.dynamodb),
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const keyDeps = { accessKeys: new AccessKeyRepository(doc, DEFAULT_RESOURCE_NAMES.table) };
  const bus = new EventBridgeClient({
    endpoint: target.events,
    region: target.region,
    credentials: localCredentials(target.events),
    maxAttempts: 1,
  });
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    await tour(target, receiver, keyDeps, bus, cleanups, values.keep === true);
    say(`\n${paint("bold", `Done in ${((Date.now() - began) / 1000).toFixed(1)} s.`)}`);
    return 0;
  } catch (error) {
    if (interrupted) return 130;
    say(`\n  ${paint("red", "✗")} ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await receiver.close();
    bus.destroy();
    doc.destroy();
    await target.own?.stop();
  }
}

async function tour(
  target: Target,
  receiver: DemoReceiver,
  keyDeps: { accessKeys: AccessKeyRepository },
  bus: EventBridgeClient,
  cleanups: (() => Promise<unknown>)[],
  keep: boolean,
): Promise<void> {
  // --- 2. An access key ---
  heading(2, "An access key for a new customer");
  const customerId = randomUUID();
  const minted = await mintAccessKey({ customerId, name: "npm run demo" }, keyDeps);
  ok(`customer ${customerId}: key ${minted.key.slice(0, 7)}… (id ${minted.accessKey.key_id})`);
  note("minted straight into the stack's DynamoDB, as `npm run keys -- create --customer <uuid>` does");
  // An attached stack is left as the demo found it; its own in-memory stack simply goes away.
  const cleanUp = !keep && target.own === undefined;
  if (cleanUp) cleanups.push(() => revokeAccessKey(minted.accessKey.key_id, keyDeps));
  const api = new Api(target.api, minted.key);

  // --- 3. Subscriptions ---
  heading(3, "Subscriptions to a receiver on this machine");
  const base = await receiver.start();
  ok(`receiver listening on ${base}, verifying every request with standardwebhooks`);
  const flowId = randomUUID();
  const subscribe = async (path: string, fields: Record<string, unknown>, what: string) => {
    const created = await api.call<Subscription>("POST", "/v1/subscriptions", 201, {
      url: `${base}${path}`,
      ...fields,
    });
    receiver.register(path, created.secret);
    if (cleanUp) cleanups.push(() => api.call("DELETE", `/v1/subscriptions/${created.id}`, 204));
    ok(`${paint("bold", path.padEnd(9))} ${what}  (subscription ${created.id})`);
    return created;
  };
  const all = await subscribe("/all", { event_types: ["*"], description: "everything" }, "event_types [*]");
  const flow = await subscribe(
    "/flow",
    { event_types: ["call_*"], activeflow_id: flowId, description: "calls of one activeflow" },
    `event_types [call_*], activeflow_id ${flowId.slice(0, 8)}…`,
  );

  // --- 4. Events ---
  heading(4, "Four VoIPBIN events on the bus (AWS SDK PutEvents, as a VoIPBIN service sends them)");
  const samples = loadSamples();
  const entries = [
    sampleEntry("call_created", { customerId, activeflowId: flowId }, samples),
    sampleEntry("call_hangup", { customerId, activeflowId: randomUUID() }, samples),
    sampleEntry("message_created", { customerId }, samples),
    sampleEntry("recording_finished", { customerId }, samples),
  ];
  await putEvents(bus, target.busName, entries);
  for (const entry of entries) {
    const data = (JSON.parse(entry.Detail) as { data: { activeflow_id?: string } }).data;
    const flowNote = data.activeflow_id === flowId ? " (the filtered activeflow)" : "";
    step(`${entry.DetailType} from ${entry.Source}${flowNote}`);
  }
  await receiver.until(
    () => receiver.at("/all").length >= 4 && receiver.at("/flow").length >= 1,
    "4 deliveries to /all and 1 to /flow",
  );
  heading(5, "Deliveries, each verified with standardwebhooks");
  for (const request of receiver.received) {
    if (!request.verified) throw new DemoError(`a delivery to ${request.path} did not verify`);
    ok(
      `${request.path.padEnd(6)} ${request.type.padEnd(19)} webhook-id ${request.webhookId}  signature verified`,
    );
  }
  const flowTypes = receiver.at("/flow").map((request) => request.type);
  if (flowTypes.join() !== "call_created") {
    throw new DemoError(`/flow received ${flowTypes.join(", ")} instead of call_created alone`);
  }
  note("/flow got call_created only: call_hangup was for another activeflow, the rest are not call_*");

  // --- 6. A failing endpoint ---
  heading(6, "A failing endpoint: retried, dead-lettered, retried by hand");
  receiver.answer("/flaky", 503);
  const flaky = await subscribe(
    "/flaky",
    { event_types: ["call_hangup"], activeflow_id: flowId, description: "down for now" },
    "event_types [call_hangup] — answers 503 for now",
  );
  await putEvents(bus, target.busName, [
    sampleEntry("call_hangup", { customerId, activeflowId: flowId }, samples),
  ]);
  step("call_hangup of the filtered activeflow on the bus (/all and /flow get it too)");
  const [first] = (
    await poll(
      () => api.deliveries(flaky.id),
      (page) => page.items.length > 0,
      "the delivery to /flaky to be recorded",
    )
  ).items;
  if (!first) throw new DemoError("no delivery to /flaky");
  const deliveryPath = `/v1/deliveries/${first.id}`;
  let shown = 0;
  let gaveUpWaiting = false;
  const final = await poll(
    () => api.call<Delivery>("GET", deliveryPath, 200),
    (delivery) => {
      for (const attempt of delivery.attempts.slice(shown)) {
        shown++;
        const outcome = attempt.status_code ?? attempt.error ?? "?";
        const firstAt = Date.parse(delivery.attempts[0]?.at ?? attempt.at);
        const offset = ((Date.parse(attempt.at) - firstAt) / 1000).toFixed(1);
        step(`attempt ${shown} at +${offset} s: ${outcome} (answered in ${attempt.latency_ms} ms)`);
      }
      if (delivery.status === "dead") return true;
      if (delivery.status === "failed" && delivery.next_attempt_at !== null && target.own === undefined) {
        const wait = Date.parse(delivery.next_attempt_at) - Date.now();
        if (wait > MAX_WAIT_FOR_RETRY_MS) {
          note(`the stack's next retry is ${Math.round(wait / 1000)} s away: not waiting for it`);
          gaveUpWaiting = true;
          return true;
        }
      }
      return false;
    },
    "the delivery to /flaky to be dead-lettered",
    60_000,
  );
  if (!gaveUpWaiting) {
    ok(`dead after ${final.attempts.length} attempts`);
    if (target.own) {
      const own = target.own;
      await poll(
        () => dlqDepth(own),
        (depth) => depth > 0,
        "the job to reach the dead-letter queue",
      );
      ok("the job is in the dead-letter queue (SQS redrive after the last receive)");
    }
  }
  const failedIds = new Set(receiver.at("/flaky").map((request) => request.webhookId));
  receiver.answer("/flaky", 204);
  step("the endpoint is fixed; POST /v1/deliveries/{id}/retry");
  await api.call("POST", `${deliveryPath}/retry`, 202);
  await receiver.until(
    () => receiver.at("/flaky").some((request) => request.answered === 204),
    "the manual retry to reach /flaky",
  );
  const delivered = await poll(
    () => api.call<Delivery>("GET", deliveryPath, 200),
    (delivery) => delivery.status === "succeeded",
    "the delivery to be recorded as succeeded",
  );
  const retried = receiver.at("/flaky").find((request) => request.answered === 204);
  if (!retried?.verified || failedIds.size !== 1 || !failedIds.has(retried.webhookId)) {
    throw new DemoError("the manual retry did not carry the failed attempts' webhook-id");
  }
  if (retried.webhookId !== delivered.webhook_id) {
    throw new DemoError("the receiver's webhook-id differs from the delivery log's");
  }
  ok(`delivered and verified, with the same webhook-id ${retried.webhookId} as the failed attempts`);
  note("receivers deduplicate on webhook-id: a retry is never a new event");
  // /all subscribes to `*`, which includes the warnings about other subscriptions of the customer
  // (never about itself): /flaky's failing streak, its dead delivery and its recovery.
  const warnings = ["webhook_endpoint_failing", "webhook_delivery_exhausted", "webhook_endpoint_recovered"];
  await receiver.until(
    () => warnings.every((type) => receiver.at("/all").some((request) => request.type === type)),
    "/all to get the warnings about /flaky",
  );
  ok(`/all got the warnings about /flaky: ${warnings.join(", ")}`);

  const unverified = receiver.received.filter((request) => !request.verified);
  if (unverified.length > 0) throw new DemoError(`${unverified.length} deliveries did not verify`);
  ok(`all ${receiver.received.length} requests the receiver got verified with standardwebhooks`);

  // --- 7. The delivery log ---
  heading(7, "The delivery log (GET /v1/subscriptions/{id}/deliveries)");
  for (const [path, subscription] of [
    ["/all", all],
    ["/flow", flow],
    ["/flaky", flaky],
  ] as const) {
    say(`  ${paint("bold", path)}`);
    for (const delivery of (await api.deliveries(subscription.id)).items) {
      const codes = delivery.attempts.map((attempt) => attempt.status_code ?? "error").join(" ");
      const status = delivery.status === "succeeded" ? paint("green", delivery.status) : delivery.status;
      say(
        `    ${delivery.created_at.slice(11, 23)}  ${delivery.event_type.padEnd(19)} ${status.padEnd(9)}  attempts: ${codes}`,
      );
    }
  }

  if (keep && target.own) {
    note("\n  --keep: nothing to keep, the demo's own in-memory stack stops now (start `npm start` first).");
  } else if (keep) {
    heading(8, "Kept for you");
    say(`  customer ${customerId}, access key ${minted.key}`);
    say(`  curl -H "Authorization: Bearer ${minted.key}" ${target.api}/v1/subscriptions`);
  } else if (cleanUp) {
    note("\n  Cleaning up: the demo's subscriptions are deleted and its key revoked (--keep keeps them).");
  }
}

async function dlqDepth(stack: LocalStack): Promise<number> {
  const sqs = new SQSClient({
    endpoint: stack.endpoints.sqs,
    region: stack.settings.region,
    credentials: { accessKeyId: stack.stackKey, secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey },
    useQueueUrlAsEndpoint: false,
  });
  try {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.queues.deliveryDlqUrl,
        AttributeNames: ["ApproximateNumberOfMessages"],
      }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
  } finally {
    sqs.destroy();
  }
}

async function putEvents(
  bus: EventBridgeClient,
  busName: string,
  entries: readonly { Source: string; DetailType: string; Detail: string }[],
): Promise<void> {
  const response = await bus.send(
    new PutEventsCommand({ Entries: entries.map((entry) => ({ ...entry, EventBusName: busName })) }),
  );
  if (response.FailedEntryCount !== 0) {
    throw new DemoError(`PutEvents failed for ${response.FailedEntryCount} entries`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
