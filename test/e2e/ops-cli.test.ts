import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveDeliveryIds, deriveWebhookId } from "#shared/domain/ids.ts";
import { loadLocalSettings } from "../../local/settings.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { localCredentials } from "../../scripts/lib/local-stack.ts";
import {
  callApi,
  eventBridgeClient,
  mintKey,
  type RunningStack,
  runNpmScript,
} from "../support/e2e-stack.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The operator CLI (`npm run ops`) against a local stack, end to end. The stack runs in this process
 * so that a real router failure can be injected into its SQS client (one subscription's job is
 * refused by SendMessageBatch); the CLI runs as an operator runs it, in a child process, talking to
 * the stack's public endpoints.
 */
let stack: LocalStack;
let asRunning: RunningStack;
let cliEnv: Record<string, string>;
let sqs: SQSClient;
const receivers: Receiver[] = [];

/** Refuses, in every SendMessageBatch to the delivery queue, the entries whose job names `subscriptionId`. */
let refuseJobsFor: string | undefined;
const originalSend = SQSClient.prototype.send;

beforeAll(async () => {
  // The functions run in this process: their INFO lines would drown the test output.
  process.env.POWERTOOLS_LOG_LEVEL = "ERROR";
  const settings = loadLocalSettings(["--in-memory"], {
    API_PORT: "0",
    EVENTS_PORT: "0",
    DYNAMODB_PORT: "0",
    SQS_PORT: "0",
    RETRY_SCHEDULE: "1,1",
  });
  if (settings === "help") throw new Error("unreachable");
  stack = await startLocalStack(
    { ...settings, routerRetryDelaysMs: [20, 20] },
    new Logger({ serviceName: "local-stack", logLevel: "ERROR" }),
  );
  asRunning = { endpoints: stack.endpoints } as RunningStack;
  const port = (url: string) => new URL(url).port;
  cliEnv = {
    SQS_PORT: port(stack.endpoints.sqs),
    DYNAMODB_PORT: port(stack.endpoints.dynamodb),
    EVENTS_PORT: port(stack.endpoints.events),
  };
  sqs = new SQSClient({
    endpoint: stack.endpoints.sqs,
    region: "us-east-1",
    credentials: localCredentials(stack.endpoints.sqs),
  });
  // The fault: SQS reports the refused entries as failed, as it does under throttling; the router's
  // queue adapter retries them, then fails the invocation (Lambda retries it, then parks it).
  SQSClient.prototype.send = async function faultySend(
    this: SQSClient,
    command: unknown,
    ...rest: unknown[]
  ) {
    if (
      refuseJobsFor !== undefined &&
      command instanceof SendMessageBatchCommand &&
      command.input.QueueUrl === stack.queues.deliveryQueueUrl
    ) {
      const entries = command.input.Entries ?? [];
      const refused = entries.filter((e) => e.MessageBody?.includes(refuseJobsFor as string));
      const kept = entries.filter((e) => !refused.includes(e));
      const sent =
        kept.length > 0
          ? await (originalSend as (...args: unknown[]) => Promise<unknown>).call(
              this,
              new SendMessageBatchCommand({ ...command.input, Entries: kept }),
            )
          : { Successful: [] };
      return {
        ...(sent as object),
        Failed: refused.map((e) => ({
          Id: e.Id,
          SenderFault: false,
          Code: "InternalError",
          Message: "injected",
        })),
      };
    }
    return (originalSend as (...args: unknown[]) => Promise<unknown>).call(this, command, ...rest);
  } as typeof SQSClient.prototype.send;
}, 60_000);

afterAll(async () => {
  SQSClient.prototype.send = originalSend;
  sqs?.destroy();
  await Promise.all(receivers.map((r) => r.close()));
  await stack?.stop();
});

async function subscribe(key: string, url: string): Promise<string> {
  const response = await callApi<{ id: string }>(asRunning, "POST", "/v1/subscriptions", {
    key,
    body: { url, event_types: ["call_*"] },
  });
  expect(response.status, response.text).toBe(201);
  return response.body.id;
}

/** Puts one event on the stack's bus with the AWS SDK, as a VoIPBIN service does; returns its id. */
async function putEvent(detailType: string, detail: unknown): Promise<string> {
  const bus = eventBridgeClient(asRunning);
  try {
    const put = await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: stack.eventBusName,
            Source: "voipbin.call-manager",
            DetailType: detailType,
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    );
    const eventId = put.Entries?.[0]?.EventId;
    if (!eventId) throw new Error(`PutEvents accepted no entry: ${JSON.stringify(put)}`);
    return eventId;
  } finally {
    bus.destroy();
  }
}

async function ops(...args: string[]) {
  return runNpmScript("ops", args, cliEnv, 60_000);
}

/** Runs `npm run ops -- <args>` until its stdout satisfies `until`; returns that run. */
async function opsUntil(
  args: string[],
  until: (stdout: string) => boolean,
  description: string,
  timeoutMs = 30_000,
) {
  let result: Awaited<ReturnType<typeof ops>> | undefined;
  await waitFor(
    async () => {
      result = await ops(...args);
      return until(result.stdout);
    },
    { timeoutMs, intervalMs: 300, description },
  );
  return result as Awaited<ReturnType<typeof ops>>;
}

describe("npm run ops -- router-failed redrive", () => {
  it("replays a failed event with its original id: every webhook-id arrives exactly once", async () => {
    const { key, customerId } = await mintKey(asRunning);
    const first = await startReceiver();
    const second = await startReceiver();
    receivers.push(first, second);
    const delivered = await subscribe(key, `${first.url}/hook`);
    const refused = await subscribe(key, `${second.url}/hook`);

    refuseJobsFor = refused;
    const eventId = await putEvent("call_hangup", {
      customer_id: customerId,
      data: { id: randomUUID(), status: "hangup" },
    });
    expect(eventId).toBeTruthy();

    // The first subscription's job went out on every router attempt; the second's never did, and
    // after the router queue's retries SQS moves the event to the router-failed queue.
    await first.waitForRequests(1, 20_000);
    const listed = await opsUntil(
      ["router-failed", "list", "--json"],
      (out) => out.includes(eventId),
      "the event on the router-failed queue",
    );
    expect(listed.code, listed.stderr).toBe(0);
    const row = JSON.parse(
      listed.stdout
        .trim()
        .split("\n")
        .find((l) => l.includes(eventId)) as string,
    );
    expect(row).toEqual(
      expect.objectContaining({ event_id: eventId, event_type: "call_hangup", customer_id: customerId }),
    );
    // A dead letter of the router queue is the event alone: why it failed is in the router's logs.
    expect(row.error).toBeNull();
    expect(second.requests).toHaveLength(0);

    const dry = await ops("router-failed", "redrive", "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`would invoke the router with event ${eventId} (call_hangup)`);
    expect(dry.stdout).toMatch(/1 would be redriven, 0 failed, 0 unreadable \(dry run: nothing changed\)/);

    // While the fault lasts a redrive fails and keeps the message.
    const failing = await ops("router-failed", "redrive");
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/1 read, 0 redriven, 1 failed/);
    expect(failing.stderr).toMatch(/the router failed: .*; kept/);

    refuseJobsFor = undefined;
    const redriven = await ops("router-failed", "redrive");
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(redriven.stdout).toMatch(
      /router-failed redrive on the local stack .*: 1 read, 1 redriven, 0 failed, 0 unreadable/,
    );

    await second.waitForRequests(1, 20_000);
    // The webhook-ids are the ones derived from the event's ORIGINAL id: nothing was re-put.
    expect(second.requests[0]?.headers["webhook-id"]).toBe(deriveWebhookId(eventId, refused));
    expect(first.requests[0]?.headers["webhook-id"]).toBe(deriveWebhookId(eventId, delivered));

    // The router-failed queue is empty, and the first receiver's delivery was not sent again: the
    // replayed job for it was skipped because that delivery had already succeeded.
    await opsUntil(
      ["router-failed", "list", "--json"],
      (out) => !out.includes(eventId),
      "the router-failed queue without the event",
      10_000,
    );
    const log = await callApi<{ items: { status: string }[] }>(
      asRunning,
      "GET",
      `/v1/subscriptions/${delivered}/deliveries`,
      { key },
    );
    expect(log.body.items.map((d) => d.status)).toEqual(["succeeded"]);
    await waitFor(
      async () => {
        const secondLog = await callApi<{ items: { status: string }[] }>(
          asRunning,
          "GET",
          `/v1/subscriptions/${refused}/deliveries`,
          { key },
        );
        return secondLog.body.items.some((d) => d.status === "succeeded");
      },
      { timeoutMs: 10_000, description: "the replayed delivery recorded as succeeded" },
    );
    const ids = (r: Receiver) => r.requests.map((q) => q.headers["webhook-id"]);
    expect(ids(first)).toHaveLength(1);
    expect(ids(second)).toHaveLength(1);
  }, 120_000);
});

describe("npm run ops -- unroutable and dead-letters", () => {
  it("lists an unroutable event with its reason and shows it by message id", async () => {
    const eventId = await putEvent("no_such_type", { customer_id: randomUUID(), data: {} });
    const listed = await opsUntil(
      ["unroutable", "list"],
      (out) => out.includes(eventId),
      "the unroutable event listed",
    );
    const line = listed.stdout.split("\n").find((l) => l.includes(eventId)) as string;
    expect(listed.stdout.split("\n")[0]).toMatch(
      /^MESSAGE_ID\s+SENT_AT\s+REASON\s+EVENT_ID\s+EVENT_TYPE\s+CUSTOMER_ID/,
    );
    expect(line).toContain("no_such_type");
    const messageId = line.split(/\s+/)[0] as string;
    const shown = await ops("unroutable", "show", messageId, "--json");
    expect(shown.code, shown.stderr).toBe(0);
    const body = JSON.parse(shown.stdout) as { body: { event: { id: string } }; reason: string };
    expect(body.body.event.id).toBe(eventId);
    expect(body.reason).toBeTruthy();

    // Still unroutable after a redrive: the router parks it again with its reason; nothing is lost.
    const redriven = await ops("unroutable", "redrive");
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(redriven.stdout).toMatch(/still unroutable/);
    const again = await ops("unroutable", "list", "--json");
    expect(again.stdout.split("\n").filter((l) => l.includes(eventId))).toHaveLength(1);
  }, 60_000);

  it("redrives a dead letter through the delivery log's retry, to the same webhook-id", async () => {
    const { key, customerId } = await mintKey(asRunning);
    let failing = true;
    const receiver = await startReceiver(() => ({ status: failing ? 500 : 200 }));
    receivers.push(receiver);
    const subscription = await subscribe(key, `${receiver.url}/hook`);
    const eventId = await putEvent("call_created", { customer_id: customerId, data: { id: randomUUID() } });
    const webhookId = deriveWebhookId(eventId, subscription);
    // Three attempts (RETRY_SCHEDULE 1,1), then the dead-letter queue.
    const listed = await opsUntil(
      ["dead-letters", "list", "--json"],
      (out) => out.includes(webhookId),
      "the dead letter listed",
    );
    const row = JSON.parse(listed.stdout.split("\n").find((l) => l.includes(webhookId)) as string);
    const deliveryId = String(row.delivery_id);
    expect(deliveryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(row.reason).toBeTruthy();
    expect(row.reason).not.toMatch(/backstop/);
    const attemptsBefore = receiver.requests.length;
    failing = false;
    const redriven = await ops("dead-letters", "redrive", "--limit", "50");
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(redriven.stdout).toMatch(/dead-letters redrive on .*: \d+ read, \d+ redriven, 0 failed/);
    await receiver.waitForRequests(attemptsBefore + 1, 20_000);
    expect(receiver.requests.at(-1)?.headers["webhook-id"]).toBe(webhookId);
    const after = await ops("dead-letters", "list", "--json");
    expect(after.stdout).not.toContain(deliveryId);
  }, 90_000);
});

describe("npm run ops -- dead-letters reconcile", () => {
  it("closes a job the queue's backstop moved to the backstop queue: dead (internal) in the API, on the DLQ with the reason", async () => {
    const { key, customerId } = await mintKey(asRunning);
    const receiver = await startReceiver(() => ({ status: 200 }));
    receivers.push(receiver);
    const subscription = await subscribe(key, `${receiver.url}/hook`);
    const eventId = randomUUID();
    const { deliveryId, webhookId } = deriveDeliveryIds(eventId, subscription, new Date());
    // What SQS's redrive does with a job whose receives never reached the function: the job on the
    // lanes' redrive target, the backstop queue, and no record.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queues.deliveryBackstopUrl,
        MessageBody: JSON.stringify({
          v: 1,
          delivery_id: deliveryId,
          webhook_id: webhookId,
          subscription_id: subscription,
          customer_id: customerId,
          event_id: eventId,
          event_type: "call_created",
          payload: '{"type":"call_created","data":{}}',
        }),
      }),
    );
    // Not a dead letter until reconciled: the dead-letter queue holds only jobs with a reason.
    const before = await ops("dead-letters", "list", "--json");
    expect(before.stdout).not.toContain(deliveryId);

    const dry = await ops("dead-letters", "reconcile", "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      /dead-letters reconcile on the local stack .*: \d+ backstop arrivals examined, [1-9]\d* would be reconciled .*\(dry run: nothing changed\)/,
    );
    expect((await callApi(asRunning, "GET", `/v1/deliveries/${deliveryId}`, { key })).status).toBe(404);
    expect((await ops("dead-letters", "list", "--json")).stdout).not.toContain(deliveryId);

    const run = await ops("dead-letters", "reconcile");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/[1-9]\d* reconciled \(closed as dead, reason internal\), 0 unreadable/);
    const shown = await callApi<{ status: string; dead_reason: string | null }>(
      asRunning,
      "GET",
      `/v1/deliveries/${deliveryId}`,
      { key },
    );
    expect(shown.status, shown.text).toBe(200);
    expect(shown.body).toMatchObject({ status: "dead", dead_reason: "internal" });
    const after = await ops("dead-letters", "list", "--json");
    const rows = after.stdout.split("\n").filter((l) => l.includes(deliveryId));
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0] as string).reason).toBe("internal");
    // The pass drained the backstop queue: a second one finds nothing.
    const again = await ops("dead-letters", "reconcile");
    expect(again.stdout).toMatch(/: 0 backstop arrivals examined, 0 reconciled/);
    // Nothing was sent: the reconciliation closes deliveries, it never delivers.
    expect(receiver.requests).toHaveLength(0);
  }, 180_000);
});

describe("npm run ops -- usage", () => {
  it("lists every problem of a bad command line at once and exits 2", async () => {
    const result = await ops("dead-letter", "purge", "--limit", "0", "--stage", "Prod");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown kind "dead-letter"');
    expect(result.stderr).toContain('unknown action "purge"');
    expect(result.stderr).toContain('--limit takes a whole number ≥ 1, not "0"');
    expect(result.stderr).toContain("--stage and --region apply to --aws");
    expect(result.stdout).toBe("");
  });

  it("says where it looked when the local stack is not there", async () => {
    const result = await runNpmScript(
      "ops",
      ["dead-letters", "list"],
      { SQS_ENDPOINT: "http://127.0.0.1:1" },
      30_000,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot reach the local stack .*npm start/);
  });

  it("keeps --aws away from local endpoints", async () => {
    const result = await runNpmScript(
      "ops",
      ["router-failed", "list", "--aws", "--region", "eu-west-1"],
      { SQS_ENDPOINT: "http://127.0.0.1:1" },
      30_000,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--aws talks to AWS itself: unset SQS_ENDPOINT");
  });
});
