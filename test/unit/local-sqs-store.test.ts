import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SqsError } from "../../local/sqs/errors.ts";
import { SqsStore } from "../../local/sqs/store.ts";

/**
 * The local SQS's store against the SQS rules the emulators skip (SQS API Reference,
 * ChangeMessageVisibility; SQS Developer Guide, "Amazon SQS visibility timeout", dead-letter queues,
 * "Amazon SQS fair queues"), with a clock the test moves.
 */

const REGION = "us-east-1";
const BASE = "http://127.0.0.1:1";

function storeAt(start = 1_800_000_000_000) {
  const clock = { now: start };
  const store = new SqsStore({
    file: ":memory:",
    clock: () => clock.now,
    fairQueue: { minGroupInFlight: 4 },
  });
  return { store, clock };
}

const errorOf = (work: () => unknown): SqsError => {
  try {
    work();
  } catch (error) {
    if (error instanceof SqsError) return error;
    throw error;
  }
  throw new Error("expected an SqsError");
};

describe("local SQS store", () => {
  it("refuses a visibility change reaching past 12 h from THIS receive, and resets at the next receive", () => {
    const { store, clock } = storeAt();
    store.createQueue("q", { VisibilityTimeout: "30" }, REGION, BASE);
    store.sendMessage("q", { MessageBody: "job" });
    const [first] = store.receiveMessage("q", {}, REGION);
    // At the instant of the receive, 43,200 s is the most it allows.
    store.changeMessageVisibility("q", first?.ReceiptHandle, 43_200);
    clock.now += 1000;
    const refused = errorOf(() => store.changeMessageVisibility("q", first?.ReceiptHandle, 43_200));
    expect(refused.queryCode).toBe("InvalidParameterValue");
    expect(refused.message).toContain(
      "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
    );
    store.changeMessageVisibility("q", first?.ReceiptHandle, 43_199);
    // Visible again (made so on purpose): a new receive starts a new 12 hours.
    store.changeMessageVisibility("q", first?.ReceiptHandle, 0);
    clock.now += 10 * 3600 * 1000;
    const [second] = store.receiveMessage("q", {}, REGION);
    store.changeMessageVisibility("q", second?.ReceiptHandle, 43_200);
    // The first receive's handle has expired for visibility changes, but still deletes.
    expect(errorOf(() => store.changeMessageVisibility("q", first?.ReceiptHandle, 5)).message).toContain(
      "expired",
    );
    store.deleteMessage("q", first?.ReceiptHandle);
    expect(store.inspect("q").inflight).toHaveLength(0);
  });

  it("moves a message to the dead-letter queue on the receive after maxReceiveCount, keeping its send time", () => {
    const { store, clock } = storeAt();
    store.createQueue("dlq", {}, REGION, BASE);
    store.createQueue(
      "q",
      {
        VisibilityTimeout: "1",
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: `arn:aws:sqs:${REGION}:000000000000:dlq`,
          maxReceiveCount: 2,
        }),
      },
      REGION,
      BASE,
    );
    const sent = store.sendMessage("q", { MessageBody: "job" });
    for (let i = 0; i < 2; i++) {
      expect(store.receiveMessage("q", {}, REGION)).toHaveLength(1);
      clock.now += 1000;
    }
    expect(store.receiveMessage("q", {}, REGION)).toHaveLength(0);
    const [dead] = store.receiveMessage("dlq", { MessageSystemAttributeNames: ["All"] }, REGION);
    expect(dead?.MessageId).toBe(sent.MessageId);
    expect(dead?.Attributes?.DeadLetterQueueSourceArn).toBe(`arn:aws:sqs:${REGION}:000000000000:q`);
    expect(Number(dead?.Attributes?.SentTimestamp)).toBe(clock.now - 2000);
  });

  it("keeps a delayed message hidden for DelaySeconds and a retry at its schedule after a release", () => {
    const { store, clock } = storeAt();
    store.createQueue("q", { VisibilityTimeout: "60" }, REGION, BASE);
    store.sendMessage("q", { MessageBody: "later", DelaySeconds: 5 });
    store.sendMessage("q", { MessageBody: "working" });
    store.sendMessage("q", { MessageBody: "retrying" });
    expect(
      store
        .receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION)
        .map((m) => m.Body)
        .sort(),
    ).toEqual(["retrying", "working"]);
    const retrying = store.inspect("q").inflight.find((m) => m.message.body === "retrying");
    store.changeMessageVisibility("q", retrying?.receiptHandle, 600);
    // A restart: the consumer of "working" is gone; "retrying" keeps its 600 s.
    expect(store.releaseUnchangedReceives(["q"])).toBe(1);
    expect(store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION).map((m) => m.Body)).toEqual([
      "working",
    ]);
    clock.now += 5000;
    expect(store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION).map((m) => m.Body)).toEqual([
      "later",
    ]);
  });

  it("serves a message group holding a disproportionate share of in-flight messages last (fair queues), dropping nothing", () => {
    const { store } = storeAt();
    store.createQueue("q", { VisibilityTimeout: "600" }, REGION, BASE);
    for (let i = 0; i < 8; i++)
      store.sendMessage("q", { MessageBody: `noisy-${i}`, MessageGroupId: "noisy" });
    store.sendMessage("q", { MessageBody: "quiet-0", MessageGroupId: "quiet" });
    // The noisy customer's first 6 are in flight (say, stuck on a black hole).
    expect(store.receiveMessage("q", { MaxNumberOfMessages: 6 }, REGION)).toHaveLength(6);
    for (let i = 0; i < 3; i++)
      store.sendMessage("q", { MessageBody: `noisy-late-${i}`, MessageGroupId: "noisy" });
    store.sendMessage("q", { MessageBody: "quiet-1", MessageGroupId: "quiet" });
    // Older noisy messages are waiting, yet the quiet group is served first.
    const next = store.receiveMessage("q", { MaxNumberOfMessages: 3 }, REGION).map((m) => m.Body);
    expect(next.slice(0, 2)).toEqual(["quiet-0", "quiet-1"]);
    const rest = store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION);
    expect(next.length + rest.length).toBe(7);
  });

  it("refuses what SQS refuses: bad bodies, FIFO-only parameters, oversized batches; accepts astral characters", () => {
    const { store } = storeAt();
    store.createQueue("q", {}, REGION, BASE);
    expect(errorOf(() => store.sendMessage("q", { MessageBody: "bad \uffff" })).type).toBe(
      "InvalidMessageContents",
    );
    expect(
      errorOf(() => store.sendMessage("q", { MessageBody: "x", MessageDeduplicationId: "d" })).type,
    ).toBe("InvalidParameterValue");
    expect(store.sendMessage("q", { MessageBody: "SMS 📞" }).MD5OfMessageBody).toMatch(/^[0-9a-f]{32}$/);
    const entries = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: "x" }));
    expect(errorOf(() => store.sendMessageBatch("q", entries)).type).toBe("TooManyEntriesInBatchRequest");
    expect(errorOf(() => store.receiveMessage("nope", {}, REGION)).queryCode).toBe(
      "AWS.SimpleQueueService.NonExistentQueue",
    );
  });
  it("enforces the in-flight quota: OverLimit at the quota, delayed messages not counted, room again on delete or expiry", () => {
    const clock = { now: 1_800_000_000_000 };
    const store = new SqsStore({ file: ":memory:", clock: () => clock.now, inFlightLimit: 3 });
    store.createQueue("q", { VisibilityTimeout: "30" }, REGION, BASE);
    for (let i = 0; i < 5; i++) store.sendMessage("q", { MessageBody: `m${i}` });
    store.sendMessage("q", { MessageBody: "later", DelaySeconds: 60 });
    const counts = () =>
      store.getQueueAttributes(
        "q",
        [
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed",
        ],
        REGION,
      );
    // A batch stops at the quota.
    const batch = store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION);
    expect(batch).toHaveLength(3);
    expect(counts()).toEqual({
      ApproximateNumberOfMessages: "2",
      ApproximateNumberOfMessagesNotVisible: "3",
      ApproximateNumberOfMessagesDelayed: "1",
    });
    const refused = errorOf(() => store.receiveMessage("q", {}, REGION));
    expect(refused.type).toBe("OverLimit");
    expect(refused.queryCode).toBe("OverLimit");
    expect(store.atInFlightLimit("q")).toBe(true);
    // A delete makes room for one.
    store.deleteMessage("q", batch[0]?.ReceiptHandle);
    expect(store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION)).toHaveLength(1);
    expect(errorOf(() => store.receiveMessage("q", {}, REGION)).type).toBe("OverLimit");
    // Visibility timeouts ending make room too; the delayed message is backlog until its delay ends.
    clock.now += 30_000;
    expect(counts().ApproximateNumberOfMessagesNotVisible).toBe("0");
    expect(counts().ApproximateNumberOfMessages).toBe("4");
    clock.now += 30_000;
    expect(counts()).toEqual({
      ApproximateNumberOfMessages: "5",
      ApproximateNumberOfMessagesNotVisible: "0",
      ApproximateNumberOfMessagesDelayed: "0",
    });
    // A visibility change to 0 gives the slot back at once.
    const [one] = store.receiveMessage("q", { MaxNumberOfMessages: 3 }, REGION);
    store.changeMessageVisibility("q", one?.ReceiptHandle, 0);
    expect(counts().ApproximateNumberOfMessagesNotVisible).toBe("2");
  });

  it("answers OverLimit at the quota even with nothing visible left, and an empty queue with nothing", () => {
    const store = new SqsStore({ file: ":memory:", clock: () => 1_800_000_000_000, inFlightLimit: 2 });
    store.createQueue("q", { VisibilityTimeout: "30" }, REGION, BASE);
    // Idle: nothing to receive is an empty answer (the quick path, without a write transaction).
    expect(store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION)).toEqual([]);
    store.sendMessage("q", { MessageBody: "a" });
    store.sendMessage("q", { MessageBody: "b" });
    expect(store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION)).toHaveLength(2);
    // Nothing is visible now, and the queue is at its quota: SQS's answer is still OverLimit.
    expect(errorOf(() => store.receiveMessage("q", {}, REGION)).type).toBe("OverLimit");
  });

  it("takes messages up to MaximumMessageSize (1 MiB by default) and refuses larger ones with SQS's error", () => {
    const { store } = storeAt();
    store.createQueue("q", {}, REGION, BASE);
    expect(store.getQueueAttributes("q", ["MaximumMessageSize"], REGION).MaximumMessageSize).toBe("1048576");
    const name = "k";
    const value = "v".repeat(10);
    const attributes = { [name]: { DataType: "String", StringValue: value } };
    // Body and attributes (name, type, value) count together.
    const fits = 1_048_576 - name.length - "String".length - value.length;
    store.sendMessage("q", { MessageBody: "x".repeat(fits), MessageAttributes: attributes });
    const tooLong = errorOf(() =>
      store.sendMessage("q", { MessageBody: "x".repeat(fits + 1), MessageAttributes: attributes }),
    );
    expect(tooLong.type).toBe("InvalidParameterValue");
    expect(tooLong.message).toBe(
      "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.",
    );
    store.createQueue("small", { MaximumMessageSize: "1024" }, REGION, BASE);
    expect(errorOf(() => store.sendMessage("small", { MessageBody: "x".repeat(1025) })).message).toContain(
      "shorter than 1024 bytes",
    );
    expect(
      errorOf(() => store.createQueue("big", { MaximumMessageSize: "1048577" }, REGION, BASE)).type,
    ).toBe("InvalidAttributeValue");
  });

  it("rebuilds its indexes from the file: a restart keeps ready, delayed and in-flight messages where they were", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "local-sqs-")), "sqs.db");
    const clock = { now: 1_800_000_000_000 };
    const first = new SqsStore({ file, clock: () => clock.now });
    first.createQueue("q", { VisibilityTimeout: "60" }, REGION, BASE);
    for (const body of ["a", "b", "c"]) first.sendMessage("q", { MessageBody: body, MessageGroupId: "g" });
    first.sendMessage("q", { MessageBody: "later", DelaySeconds: 30 });
    const [a] = first.receiveMessage("q", {}, REGION);
    first.close();
    const second = new SqsStore({ file, clock: () => clock.now });
    expect(second.inspect("q").inflight.map((m) => m.message.body)).toEqual(["a"]);
    expect(second.inspect("q").delayed.map((m) => m.body)).toEqual(["later"]);
    expect(second.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION).map((m) => m.Body)).toEqual([
      "b",
      "c",
    ]);
    second.deleteMessage("q", a?.ReceiptHandle);
    clock.now += 60_000;
    expect(
      second
        .receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION)
        .map((m) => m.Body)
        .sort(),
    ).toEqual(["b", "c", "later"]);
    second.close();
  });
  it("drops a message when its retention ends, counted from the send, whatever its state", () => {
    const { store, clock } = storeAt();
    store.createQueue("q", { MessageRetentionPeriod: "60", VisibilityTimeout: "600" }, REGION, BASE);
    store.sendMessage("q", { MessageBody: "in flight" });
    const [received] = store.receiveMessage("q", {}, REGION);
    clock.now += 30_000;
    store.sendMessage("q", { MessageBody: "waiting" });
    clock.now += 30_000;
    // The first is 60 s old: gone, though in flight; the second has 30 s left.
    expect(store.getQueueAttributes("q", ["All"], REGION)).toMatchObject({
      ApproximateNumberOfMessages: "1",
      ApproximateNumberOfMessagesNotVisible: "0",
    });
    store.deleteMessage("q", received?.ReceiptHandle);
    expect(store.receiveMessage("q", {}, REGION).map((m) => m.Body)).toEqual(["waiting"]);
    clock.now += 30_000;
    expect(store.inspect("q")).toEqual({ ready: [], delayed: [], inflight: [] });
  });
});
