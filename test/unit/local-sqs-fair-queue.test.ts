import { describe, expect, it } from "vitest";
import { SqsStore } from "../../local/sqs/store.ts";

/**
 * AWS's fair-queue rule as a consumer of the local SQS sees it: the order ReceiveMessage answers in.
 * SQS Developer Guide, "How Amazon SQS fair queues work": a tenant (MessageGroupId) is noisy with more
 * than ~10 % of the queue's in-flight messages and at least 30 of its own in flight, or more than
 * ~10 % of recent processing time; quiet tenants' messages are served first, noisy ones are never
 * dropped; noisy status ends when the tenant's backlog drains or after 5 minutes without sends.
 * The store's own defaults (30, 10 %, 60 s window, 5 minutes) are used throughout; the clock is the
 * test's.
 */

const REGION = "us-east-1";
const BASE = "http://127.0.0.1:1";
const MINUTE = 60_000;

function fairQueue() {
  const clock = { now: 1_800_000_000_000 };
  const store = new SqsStore({ file: ":memory:", clock: () => clock.now });
  store.createQueue("q", { VisibilityTimeout: "3600" }, REGION, BASE);
  const send = (group: string, body: string) =>
    store.sendMessage("q", { MessageBody: body, MessageGroupId: group });
  const receive = (max = 10) => store.receiveMessage("q", { MaxNumberOfMessages: max }, REGION);
  /** Receives `count` messages (all must be `group`'s) and leaves them in flight; returns their handles. */
  const hold = (group: string, count: number) => {
    const handles: string[] = [];
    while (handles.length < count) {
      const batch = receive(Math.min(10, count - handles.length));
      expect(batch.length).toBeGreaterThan(0);
      for (const message of batch) {
        expect(message.Body.startsWith(group)).toBe(true);
        handles.push(message.ReceiptHandle);
      }
    }
    return handles;
  };
  /** Sends `count` new messages of `group` and holds them in flight. */
  const holdNew = (group: string, count: number) => {
    for (let i = 0; i < count; i++) send(group, `${group}-held-${i}`);
    return hold(group, count);
  };
  const deleteAll = (handles: readonly string[]) => {
    for (const handle of handles) store.deleteMessage("q", handle);
  };
  /** The body a single-message receive answers now (then deleted at once: no processing time). */
  const next = () => {
    const [message] = receive(1);
    if (message) store.deleteMessage("q", message.ReceiptHandle);
    return message?.Body;
  };
  return { store, clock, send, receive, hold, holdNew, deleteAll, next };
}

describe("local SQS fair queues (AWS's rule)", () => {
  it("is not noisy with 29 of its own in flight, and noisy with 30 (more than 10 % of the queue's)", () => {
    for (const held of [29, 30]) {
      const q = fairQueue();
      q.holdNew("loud", held);
      q.send("loud", "loud-waiting");
      q.send("calm", "calm-1");
      // Time stands still: no processing time anywhere, only the concurrency share counts.
      expect(q.next()).toBe(held === 30 ? "calm-1" : "loud-waiting");
      q.store.close();
    }
  });

  it("judges the 10 % against every in-flight message of the queue, not only the groups'", () => {
    // 30 of 300 in flight is exactly 10 %, not more: quiet. 30 of 299 is more: noisy.
    for (const others of [270, 269]) {
      const q = fairQueue();
      for (let i = 0; i < others; i++) q.store.sendMessage("q", { MessageBody: `solo-${i}` });
      q.hold("solo", others);
      q.holdNew("loud", 30);
      q.send("loud", "loud-waiting");
      q.send("calm", "calm-1");
      expect(q.next()).toBe(others === 270 ? "loud-waiting" : "calm-1");
      q.store.close();
    }
  });

  it("serves a noisy tenant's messages when no quiet one waits, and drops none", () => {
    const q = fairQueue();
    q.holdNew("loud", 30);
    for (let i = 0; i < 5; i++) q.send("loud", `loud-waiting-${i}`);
    q.send("calm", "calm-1");
    q.send("calm", "calm-2");
    const order = q.receive(10).map((m) => m.Body);
    expect(order).toEqual([
      "calm-1",
      "calm-2",
      "loud-waiting-0",
      "loud-waiting-1",
      "loud-waiting-2",
      "loud-waiting-3",
      "loud-waiting-4",
    ]);
  });

  it("serves the noisy tenant with the fewest in-flight messages first", () => {
    const q = fairQueue();
    q.holdNew("big", 40);
    q.holdNew("small", 30);
    q.send("big", "big-waiting");
    q.send("small", "small-waiting");
    expect(q.receive(2).map((m) => m.Body)).toEqual(["small-waiting", "big-waiting"]);
  });

  it("flags a tenant with few messages in flight but more than 10 % of recent processing time", () => {
    const q = fairQueue();
    // Two slow messages of "slow" in flight for a minute, while 9 other tenants' messages are
    // received and deleted at once: slow has 2 in flight (far below 30) yet ~all the processing time.
    q.send("slow", "slow-held-0");
    q.send("slow", "slow-held-1");
    q.hold("slow", 2);
    for (let second = 0; second < 60; second++) {
      q.clock.now += 1000;
      for (let tenant = 0; tenant < 9; tenant++) q.send(`fast-${tenant}`, `fast-${tenant}-${second}`);
      for (let tenant = 0; tenant < 9; tenant++) expect(q.next()).toMatch(/^fast-/);
    }
    q.send("slow", "slow-waiting");
    q.send("fast-0", "fast-0-late");
    expect(q.next()).toBe("fast-0-late");
    expect(q.next()).toBe("slow-waiting");
  });

  it("is not flagged by processing time when its share is 10 % or less", () => {
    const q = fairQueue();
    // Eleven tenants with one message each in flight for the same minute: 1/11 each.
    for (let tenant = 0; tenant < 11; tenant++) q.send(`t-${tenant}`, `t-${tenant}-held`);
    q.hold("t-", 11);
    q.clock.now += MINUTE;
    q.send("t-0", "t-0-waiting");
    // A message without a group is never deprioritised: it would come first if t-0 were noisy.
    q.store.sendMessage("q", { MessageBody: "solo" });
    expect(q.next()).toBe("t-0-waiting");
  });

  it("ends noisy status after 5 minutes without sends, even while its backlog waits", () => {
    const q = fairQueue();
    const held = q.holdNew("loud", 30);
    q.send("loud", "loud-waiting");
    q.send("calm", "calm-1");
    expect(q.next()).toBe("calm-1");
    // Its in-flight messages are done (deleted at once: no processing time), its backlog still waits:
    // the status is sticky, so a newer calm message still comes first…
    q.deleteAll(held);
    q.clock.now += 5 * MINUTE - 1000;
    q.send("calm", "calm-2");
    expect(q.next()).toBe("calm-2");
    // …until 5 minutes have passed since loud's last send.
    q.clock.now += 1000;
    q.send("calm", "calm-3");
    expect(q.next()).toBe("loud-waiting");
    expect(q.next()).toBe("calm-3");
  });

  it("ends noisy status when its backlog drains", () => {
    const q = fairQueue();
    const held = q.holdNew("loud", 30);
    q.send("loud", "loud-waiting");
    expect(q.next()).toBe("loud-waiting"); // nobody else waits: served, backlog drained
    q.deleteAll(held);
    q.send("loud", "loud-new");
    q.send("calm", "calm-1");
    // Quiet again (no share above the threshold now): its older message first.
    expect(q.next()).toBe("loud-new");
    expect(q.next()).toBe("calm-1");
  });

  it("keeps a noisy tenant noisy while its shares fall, as long as it has a backlog and sends", () => {
    const q = fairQueue();
    const held = q.holdNew("loud", 30);
    q.send("loud", "loud-waiting");
    q.send("calm", "calm-1");
    expect(q.next()).toBe("calm-1");
    q.deleteAll(held);
    q.clock.now += MINUTE;
    q.send("loud", "loud-waiting-2");
    q.send("calm", "calm-2");
    expect(q.next()).toBe("calm-2");
  });

  it("never deprioritises messages without a MessageGroupId (each is a tenant of its own)", () => {
    const q = fairQueue();
    for (let i = 0; i < 40; i++) q.store.sendMessage("q", { MessageBody: `solo-held-${i}` });
    q.hold("solo", 40);
    q.store.sendMessage("q", { MessageBody: "solo-waiting" });
    q.send("calm", "calm-1");
    expect(q.next()).toBe("solo-waiting");
  });
});
