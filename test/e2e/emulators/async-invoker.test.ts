import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AsyncFailureRecord,
  AsyncInvoker,
  AsyncInvokerStoppedError,
  asyncQueueAttributes,
} from "../../../local/async-invoker.ts";
import { LocalEventBus } from "../../../local/eventbridge.ts";
import { ensureQueue } from "../../../local/provision.ts";
import { type LocalSqs, startLocalSqs } from "../../../local/sqs/index.ts";
import { LOCAL_CREDENTIALS } from "../../../scripts/lib/local-stack.ts";
import { waitFor } from "../../support/wait.ts";

/**
 * Lambda's asynchronous invocation on a queue of the local SQS: answers once queued, retries a
 * function error after its delays, sends the invocation record to the destination when they are
 * exhausted, and keeps what is queued — scheduled retries at their schedule — across a restart.
 */

const spec = { functionName: "router", awsRegion: "us-east-1", timeoutMs: 500 };
/** What the invokers logged: said when a wait fails, so that a timeout shows what went wrong. */
const logged: string[] = [];
const quietLogger = {
  warn: (message: string, extra: Record<string, unknown>) =>
    logged.push(`WARN ${message} ${JSON.stringify(extra)}`),
  error: (message: string, extra: Record<string, unknown>) =>
    logged.push(`ERROR ${message} ${JSON.stringify(extra)}`),
};

async function until(condition: () => boolean | Promise<boolean>, options: Parameters<typeof waitFor>[1]) {
  try {
    await waitFor(condition, options);
  } catch (error) {
    throw new Error(`${(error as Error).message}; the invokers logged:\n${logged.slice(-10).join("\n")}`);
  }
}
const dir = mkdtempSync(path.join(tmpdir(), "voipbin-webhooks-async-"));
const opened: { sqs: LocalSqs; client: SQSClient }[] = [];

afterAll(async () => {
  for (const { sqs, client } of opened) {
    client.destroy();
    await sqs.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

async function queue(file: string, name = "router-async", attributes: Record<string, string> = {}) {
  const sqs = await startLocalSqs({ host: "127.0.0.1", port: 0, region: "us-east-1", file, thread: "main" });
  const client = new SQSClient({
    endpoint: sqs.endpoint,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
  });
  opened.push({ sqs, client });
  const queueUrl = await ensureQueue(client, name, {
    ...asyncQueueAttributes(spec.timeoutMs, 3600),
    ...attributes,
  });
  const depth = async () => {
    const { Attributes = {} } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["All"] }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible)
    );
  };
  return { sqs, client, queueUrl, depth };
}

function invoker(
  q: { client: SQSClient; queueUrl: string },
  handler: (event: { n: number }, context: Context) => Promise<unknown>,
  retryDelaysMs = [30, 60],
) {
  const failures: { record: AsyncFailureRecord; json: string }[] = [];
  const subject = new AsyncInvoker<{ n: number }>({
    spec,
    handler,
    queue: { sqs: q.client, queueUrl: q.queueUrl },
    retryDelaysMs,
    onFailure: async (record, json) => {
      failures.push({ record, json });
    },
    logger: quietLogger,
  });
  subject.start();
  return { invoker: subject, failures };
}

describe("Lambda asynchronous invocation, on a durable queue", () => {
  it("answers once queued, before the function runs, and deletes a success", async () => {
    const q = await queue(":memory:");
    const calls: number[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { invoker: subject, failures } = invoker(q, async (event) => {
      await gate;
      calls.push(event.n);
    });
    const requestId = await subject.invoke(JSON.stringify({ n: 1 }));
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls).toEqual([]);
    expect(await q.depth()).toBe(1);
    release();
    await waitFor(() => calls.length === 1);
    await waitFor(async () => (await q.depth()) === 0, { description: "the invocation deleted" });
    await subject.stop();
    expect(calls).toEqual([1]);
    expect(failures).toEqual([]);
  });

  it("retries a failing invocation twice after the delays, then sends Lambda's invocation record to the destination", async () => {
    const q = await queue(":memory:");
    const attempts: { at: number; requestId: string; remaining: number }[] = [];
    const { invoker: subject, failures } = invoker(q, async (_event, context) => {
      attempts.push({
        at: Date.now(),
        requestId: context.awsRequestId,
        remaining: context.getRemainingTimeInMillis(),
      });
      throw new TypeError("dynamodb unavailable");
    });
    const requestId = await subject.invoke(JSON.stringify({ n: 7 }));
    await until(() => failures.length === 1, { timeoutMs: 15_000, description: "the on-failure record" });

    expect(attempts).toHaveLength(3);
    expect(attempts.map((a) => a.requestId)).toEqual([requestId, requestId, requestId]);
    // SQS counts visibility in seconds: a delay under one is one.
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect((attempts[2]?.at ?? 0) - (attempts[1]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect(attempts[0]?.remaining).toBeGreaterThan(400);
    const expected = {
      version: "1.0",
      requestContext: {
        requestId,
        functionArn: "arn:aws:lambda:us-east-1:000000000000:function:router:$LATEST",
        condition: "RetriesExhausted",
        approximateInvokeCount: 3,
      },
      requestPayload: { n: 7 },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: { errorType: "TypeError", errorMessage: "dynamodb unavailable" },
    };
    expect(failures[0]?.record).toMatchObject(expected);
    // The text for the destination is the same record, in Lambda's key order.
    expect(JSON.parse(failures[0]?.json ?? "")).toMatchObject(expected);
    expect(Object.keys(JSON.parse(failures[0]?.json ?? ""))).toEqual([
      "version",
      "timestamp",
      "requestContext",
      "requestPayload",
      "responseContext",
      "responsePayload",
    ]);
    await waitFor(async () => (await q.depth()) === 0, { description: "the invocation deleted" });
    await subject.stop();
  });

  it("treats the function timeout as a function error", async () => {
    const q = await queue(":memory:");
    let attempts = 0;
    const { invoker: subject, failures } = invoker(q, async () => {
      attempts++;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }, []);
    await subject.invoke(JSON.stringify({ n: 1 }));
    await waitFor(() => failures.length === 1, { timeoutMs: 5_000 });
    expect(attempts).toBe(1);
    expect(failures[0]?.record.responsePayload.errorType).toBe("FunctionTimeoutError");
    await subject.stop();
  });

  it("hands a payload nested 50,000 levels deep to the function and the destination without re-serialising it", async () => {
    const q = await queue(":memory:");
    const depth = 50_000;
    const deep = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    let seen = 0;
    const { invoker: subject, failures } = invoker(
      q,
      async (event) => {
        let node: unknown = event;
        while (typeof node === "object" && node !== null) {
          node = (node as { a: unknown }).a;
          seen++;
        }
        throw new Error("too deep for this test's function");
      },
      [],
    );
    await subject.invoke(deep);
    await waitFor(() => failures.length === 1, { timeoutMs: 5_000 });
    expect(seen).toBe(depth);
    expect(failures[0]?.json).toContain(`"requestPayload":${deep},`);
    await subject.stop();
  });

  it("keeps a scheduled retry across a restart, at its schedule, and refuses invocations once stopped", async () => {
    const file = path.join(dir, "restart.sqlite");
    const first = await queue(file);
    const attempts: number[] = [];
    const { invoker: before } = invoker(first, async () => {
      attempts.push(Date.now());
      throw new Error("fails before the restart");
    }, [3_000]);
    await before.invoke(JSON.stringify({ n: 1 }));
    await waitFor(() => attempts.length === 1, { description: "the first attempt" });
    // The retry is scheduled once the message's visibility is set: stop then, with the retry waiting.
    await waitFor(async () => (await first.depth()) === 1);
    await before.stop();
    await expect(before.invoke(JSON.stringify({ n: 2 }))).rejects.toBeInstanceOf(AsyncInvokerStoppedError);
    await first.sqs.close();

    const second = await queue(file);
    // What the stack does at start: a receive of the dead process is due now, a retry keeps its time.
    expect(await second.sqs.releaseUnchangedReceives(["router-async"])).toBe(0);
    const retried: number[] = [];
    const { invoker: after, failures } = invoker(second, async () => {
      retried.push(Date.now());
    }, [3_000]);
    await waitFor(() => retried.length === 1, {
      timeoutMs: 10_000,
      description: "the retry after the restart",
    });
    expect((retried[0] ?? 0) - (attempts[0] ?? 0)).toBeGreaterThanOrEqual(2_900);
    expect(failures).toEqual([]);
    await waitFor(async () => (await second.depth()) === 0, { description: "the retry's success deleted" });
    await after.stop();
  });

  it("reports an event the queue refused in PutEvents' FailedEntryCount, and queues the rest of the request", async () => {
    // A queue that refuses messages over 1 KiB: one entry of the request is refused, one is taken.
    const q = await queue(":memory:", "router-async-small", { MaximumMessageSize: "1024" });
    const ran: unknown[] = [];
    const { invoker: subject } = invoker(q, async (event) => {
      ran.push(event);
    });
    // The local stack's wiring (local/stack.ts): the router's rule hands each event to its queue.
    const bus = new LocalEventBus({
      busName: "bus",
      region: "us-east-1",
      rules: [
        {
          name: "router",
          eventPattern: { source: [{ prefix: "voipbin." }] },
          target: async (_event, eventJson) => {
            await subject.invoke(eventJson);
          },
        },
      ],
    });
    const entry = (data: string) => ({
      EventBusName: "bus",
      Source: "voipbin.test",
      DetailType: "call_hangup",
      Detail: JSON.stringify({ data }),
    });
    const response = await bus.putEvents({ Entries: [entry("small"), entry("x".repeat(2000))] });
    expect(response.FailedEntryCount).toBe(1);
    expect(response.Entries[0]).toHaveProperty("EventId");
    expect(response.Entries[1]).toMatchObject({ ErrorCode: "InternalFailure" });
    await waitFor(() => ran.length === 1, { description: "the queued event run" });
    expect((ran[0] as { detail: { data: string } }).detail.data).toBe("small");
    await waitFor(async () => (await q.depth()) === 0, { description: "the invocation deleted" });
    await subject.stop();
  });

  it("keeps an invocation whose on-failure destination refused it, and sends it again when it comes back", async () => {
    // A short visibility timeout, so that the kept invocation comes back within the test.
    const q = await queue(":memory:", "router-async-destination", { VisibilityTimeout: "1" });
    let attempts = 0;
    let refusals = 0;
    const delivered: AsyncFailureRecord[] = [];
    const subject = new AsyncInvoker<{ n: number }>({
      spec,
      handler: async () => {
        attempts++;
        throw new Error("always fails");
      },
      queue: { sqs: q.client, queueUrl: q.queueUrl },
      retryDelaysMs: [],
      onFailure: async (record) => {
        if (refusals === 0) {
          refusals++;
          throw new Error("the destination queue is unavailable");
        }
        delivered.push(record);
      },
      logger: quietLogger,
    });
    subject.start();
    await subject.invoke(JSON.stringify({ n: 3 }));
    await until(() => refusals === 1, { description: "the destination's refusal" });
    expect(delivered).toEqual([]);
    expect(await q.depth()).toBe(1);
    await until(() => delivered.length === 1, { timeoutMs: 15_000, description: "the record delivered" });
    expect(delivered[0]?.requestPayload).toEqual({ n: 3 });
    expect(attempts).toBe(2);
    await waitFor(async () => (await q.depth()) === 0, { description: "the invocation deleted" });
    await subject.stop();
  });
});
