import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from "@aws-sdk/client-eventbridge";
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_ACCOUNT_ID } from "../../local/lambda-runtime.ts";
import { sampleEntry } from "../../local/samples.ts";
import { localCredentials } from "../../scripts/lib/local-stack.ts";
import {
  callApi,
  commandOnPath,
  eventBridgeClient,
  killAllStacks,
  mintKey,
  type RunningStack,
  runNpmScript,
  startStack,
} from "../support/e2e-stack.ts";
import { type Receiver, type RecordedRequest, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Events in, as VoIPBIN services send them: the AWS SDK's PutEvents, the AWS CLI and `npm run emit`
 * against `npm start`, with EventBridge's validation, answered per entry or per request.
 */

const BUS = "voipbin-events";
let stack: RunningStack;
let bus: EventBridgeClient;
let receiver: Receiver;
let customerId: string;
let secret: string;

beforeAll(async () => {
  stack = await startStack({ inMemory: true });
  bus = eventBridgeClient(stack);
  receiver = await startReceiver();
  const minted = await mintKey(stack);
  customerId = minted.customerId;
  const created = await callApi<{ secret: string }>(stack, "POST", "/v1/subscriptions", {
    key: minted.key,
    body: { url: `${receiver.url}/events`, event_types: ["*"] },
  });
  expect(created.status, created.text).toBe(201);
  secret = created.body.secret;
});

afterAll(async () => {
  bus?.destroy();
  await receiver?.close();
  await stack?.interrupt().catch(() => stack.kill());
  killAllStacks();
});

/** A routable call_hangup for this file's customer, told apart by data.id. */
function event(id: string, overrides: PutEventsRequestEntry = {}): PutEventsRequestEntry {
  const entry = sampleEntry("call_hangup", { customerId });
  const detail = JSON.parse(entry.Detail) as { customer_id: string; data: Record<string, unknown> };
  return {
    ...entry,
    EventBusName: BUS,
    Detail: JSON.stringify({ ...detail, data: { ...detail.data, id } }),
    ...overrides,
  };
}

const dataIdOf = (request: RecordedRequest) => (JSON.parse(request.body) as { data: { id: string } }).data.id;
const deliveredIds = () => receiver.requests.map(dataIdOf);

async function rejection(entries: PutEventsRequestEntry[]): Promise<{ name: string; message: string }> {
  try {
    await bus.send(new PutEventsCommand({ Entries: entries }));
  } catch (error) {
    return error as { name: string; message: string };
  }
  throw new Error("PutEvents was accepted");
}

describe("PutEvents with the AWS SDK", () => {
  it("answers per entry: bad entries fail with FailedEntryCount, the good ones are routed", async () => {
    const byName = randomUUID();
    const byArn = randomUUID();
    const otherBus = randomUUID();
    const entries: PutEventsRequestEntry[] = [
      event(byName),
      event(randomUUID(), { Source: undefined }),
      event(randomUUID(), { DetailType: undefined }),
      event(randomUUID(), { Detail: undefined }),
      event(randomUUID(), { Detail: "not json" }),
      event(randomUUID(), { Detail: "[1,2]" }),
      event(byArn, { EventBusName: `arn:aws:events:us-east-1:${LOCAL_ACCOUNT_ID}:event-bus/${BUS}` }),
      // A bus that does not exist: EventBridge accepts the entry and drops the event (aws/aws-cli#9186).
      event(otherBus, { EventBusName: "some-other-bus" }),
    ];
    const response = await bus.send(new PutEventsCommand({ Entries: entries }));

    expect(response.FailedEntryCount).toBe(5);
    expect(response.Entries?.map((entry) => entry.ErrorCode ?? "ok")).toEqual([
      "ok",
      "InvalidArgument",
      "InvalidArgument",
      "InvalidArgument",
      "MalformedDetail",
      "MalformedDetail",
      "ok",
      "ok",
    ]);
    expect(response.Entries?.[0]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.Entries?.[1]?.ErrorMessage).toMatch(/Source/);

    await receiver.waitForRequests(2, 10_000);
    // The event for the other bus was dropped when it was put: it can never arrive after these two.
    expect(deliveredIds().sort()).toEqual([byName, byArn].sort());
    for (const request of receiver.requests) {
      expect(() => new Webhook(secret).verify(request.body, request.headers)).not.toThrow();
    }
  });

  it("refuses the whole request past EventBridge's limits: 0 or 11 entries, 256 KiB, a malformed bus name", async () => {
    expect(await rejection([])).toMatchObject({ name: "ValidationException" });
    const eleven = Array.from({ length: 11 }, () => event(randomUUID()));
    expect(await rejection(eleven)).toMatchObject({
      name: "ValidationException",
      message: expect.stringMatching(/less than or equal to 10/),
    });
    const big = event(randomUUID());
    const padded = {
      ...big,
      Detail: JSON.stringify({ customer_id: customerId, data: { pad: "x".repeat(140_000) } }),
    };
    expect(await rejection([padded, padded])).toMatchObject({
      name: "ValidationException",
      message: expect.stringMatching(/over the limit/),
    });
    expect(await rejection([event(randomUUID(), { EventBusName: "no spaces allowed" })])).toMatchObject({
      name: "ValidationException",
      message: expect.stringMatching(/eventBusName/),
    });
    // Exactly at the limits it is accepted.
    const ten = await bus.send(
      new PutEventsCommand({ Entries: Array.from({ length: 10 }, () => event(randomUUID())) }),
    );
    expect(ten.FailedEntryCount).toBe(0);
  });
});

describe("unroutable events", () => {
  it("accepts them on the bus and parks them on the unroutable queue with the reason, without blocking others", async () => {
    const good = randomUUID();
    const marker = randomUUID();
    const response = await bus.send(
      new PutEventsCommand({
        Entries: [
          event(randomUUID(), { DetailType: "no_such_event_type", Source: `voipbin.${marker}` }),
          event(randomUUID(), {
            Source: `voipbin.${marker}`,
            Detail: JSON.stringify({ customer_id: "not-a-uuid", data: {} }),
          }),
          event(good),
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(0);
    await waitFor(() => deliveredIds().includes(good), { timeoutMs: 10_000, description: "the good event" });

    const sqs = new SQSClient({
      endpoint: stack.endpoints.sqs,
      region: "us-east-1",
      credentials: localCredentials(stack.endpoints.sqs),
      useQueueUrlAsEndpoint: false,
    });
    try {
      const { QueueUrl } = await sqs.send(
        new GetQueueUrlCommand({ QueueName: "voipbin-webhooks-unroutable" }),
      );
      const parked: { reason: string; event: { source: string } }[] = [];
      await waitFor(
        async () => {
          const { Messages = [] } = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          );
          for (const message of Messages) parked.push(JSON.parse(message.Body ?? "{}"));
          return parked.filter((item) => item.event.source === `voipbin.${marker}`).length >= 2;
        },
        { timeoutMs: 10_000, description: "two unroutable events on the queue" },
      );
      expect(
        parked
          .filter((item) => item.event.source === `voipbin.${marker}`)
          .map((item) => item.reason)
          .sort(),
      ).toEqual(["invalid_customer_id", "unknown_event_type"]);
    } finally {
      sqs.destroy();
    }
  });
});

describe("hostile events", () => {
  it("parks an event nested 5,000 levels deep as too_deep and keeps serving everyone", async () => {
    const marker = randomUUID();
    const depth = 5000;
    // 10 KB of text: far below the 256 KiB entry limit, far beyond what JSON.stringify can recurse into.
    const deepData = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    const response = await bus.send(
      new PutEventsCommand({
        Entries: [
          event(randomUUID(), {
            Source: `voipbin.${marker}`,
            Detail: `{"customer_id":"${customerId}","data":${deepData}}`,
          }),
          // Wide: many keys at one level is fine and is routed.
          event(randomUUID(), {
            Detail: JSON.stringify({
              customer_id: customerId,
              data: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])),
            }),
          }),
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(0);
    const sqs = new SQSClient({
      endpoint: stack.endpoints.sqs,
      region: "us-east-1",
      credentials: localCredentials(stack.endpoints.sqs),
      useQueueUrlAsEndpoint: false,
    });
    try {
      const { QueueUrl } = await sqs.send(
        new GetQueueUrlCommand({ QueueName: "voipbin-webhooks-unroutable" }),
      );
      let parked: { reason: string; details: string[]; event: { source: string } } | undefined;
      await waitFor(
        async () => {
          const { Messages = [] } = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          );
          for (const message of Messages) {
            const item = JSON.parse(message.Body ?? "{}") as NonNullable<typeof parked>;
            if (item.event?.source === `voipbin.${marker}`) parked = item;
          }
          return parked !== undefined;
        },
        { timeoutMs: 15_000, description: "the deep event on the unroutable queue" },
      );
      expect(parked?.reason).toBe("too_deep");
      expect(parked?.details).toEqual(["the event nests deeper than 64 levels below detail"]);
    } finally {
      sqs.destroy();
    }
    // The process is still there and still delivers.
    const after = randomUUID();
    await bus.send(new PutEventsCommand({ Entries: [event(after)] }));
    await waitFor(() => deliveredIds().includes(after), { timeoutMs: 10_000, description: "a later event" });
    expect(stack.output()).not.toMatch(/Maximum call stack/);
  });
});

describe("other clients", () => {
  it("`npm run emit` puts a sample event on the bus", async () => {
    const result = await runNpmScript("emit", ["message_created", "--customer", customerId], stack.cliEnv);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /message_created \(voipbin\.message-manager, customer [0-9a-f-]+\) → event /,
    );
    await waitFor(
      () =>
        receiver.requests.some((r) => (JSON.parse(r.body) as { type: string }).type === "message_created"),
      {
        timeoutMs: 10_000,
        description: "the emitted message_created to be delivered",
      },
    );
  });

  it("`npm run emit` without --customer sends every sample to the banner's customer", async () => {
    const banner = /--customer ([0-9a-f-]{36})/.exec(stack.output())?.[1];
    expect(banner).toBeDefined();
    for (const sample of ["recording_finished", "call_hangup", "message_created"]) {
      const result = await runNpmScript("emit", [sample], stack.cliEnv);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`customer ${banner})`);
    }
  });

  const hasAwsCli = commandOnPath("aws");
  if (!hasAwsCli) console.warn("aws CLI not found on PATH: skipping the `aws events put-events` test");

  it.skipIf(!hasAwsCli)("`aws events put-events --endpoint-url …` is routed and delivered", async () => {
    const id = randomUUID();
    const dir = mkdtempSync(path.join(tmpdir(), "put-events-"));
    try {
      const file = path.join(dir, "entries.json");
      writeFileSync(file, JSON.stringify([event(id)]));
      // As in the banner of `npm start`: the stack key it prints as the access key id, the local
      // endpoint, no profile of the machine's.
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        AWS_ACCESS_KEY_ID: stack.stackKey,
        AWS_SECRET_ACCESS_KEY: "local",
        AWS_DEFAULT_REGION: "us-east-1",
        AWS_CONFIG_FILE: path.join(dir, "no-config"),
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, "no-credentials"),
      };
      delete env.AWS_PROFILE;
      delete env.AWS_SESSION_TOKEN;
      const { stdout } = await promisify(execFile)(
        "aws",
        ["events", "put-events", "--endpoint-url", stack.endpoints.events, "--entries", `file://${file}`],
        { env, timeout: 30_000 },
      );
      expect(JSON.parse(stdout)).toMatchObject({
        FailedEntryCount: 0,
        Entries: [{ EventId: expect.any(String) }],
      });
      await waitFor(() => deliveredIds().includes(id), {
        timeoutMs: 10_000,
        description: "the event put by the AWS CLI to be delivered",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
