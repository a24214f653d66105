import { describe, expect, it } from "vitest";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { EnqueueFailedError } from "#shared/domain/errors.ts";
import type { EnqueueResult } from "#shared/domain/ports/queues.ts";
import { sharedEnqueue } from "#shared/services/shared-enqueue.ts";
import { MemoryDeliveryQueue } from "../support/memory-stores.ts";
import { waitFor } from "../support/wait.ts";

/**
 * One router batch's events sharing SendMessageBatch requests (sharedEnqueue), against an in-memory
 * delivery queue: which jobs go out in which request, and what each event's enqueue answers.
 * Mutants left alive on purpose (equivalent): the timer's bookkeeping (a spare timer's flush finds
 * nothing waiting and returns), the lone-entry branch (the shared path sends the same request and
 * answers the same counts), and the state names other than "routing" (only that one is compared).
 */

const job = (id: string): DeliveryJob => ({
  v: 1,
  delivery_id: id,
  webhook_id: `msg_${id}`,
  subscription_id: "0190a000-0000-7000-8000-00000000000a",
  customer_id: "0190a000-0000-7000-8000-0000000000c1",
  event_id: `evt-${id}`,
  event_type: "call_hangup",
  payload: "{}",
});

/** A queue answering `requests: 7` so a shared answer is told apart from a made-up one. */
function queue() {
  const q = new MemoryDeliveryQueue();
  const enqueue = q.enqueue.bind(q);
  q.enqueue = async (jobs) => ({ ...(await enqueue(jobs)), requests: 7 });
  return q;
}

const LONG = 60_000;
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("sharedEnqueue", () => {
  it("sends every event's jobs in one shared request once all have enqueued, each told its own count", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 3, LONG);
    const [a, b, c] = [shared.member(), shared.member(), shared.member()];
    const results = Promise.all([
      a.enqueue([job("a1"), job("a2")]),
      b.enqueue([job("b1")]),
      c.enqueue([job("c1"), job("c2"), job("c3")]),
    ]);
    expect(await results).toEqual([
      { sent: 2, requests: 7 },
      { sent: 1, requests: 7 },
      { sent: 3, requests: 7 },
    ]);
    expect(q.batches.map((batch) => batch.map((j) => j.delivery_id))).toEqual([
      ["a1", "a2", "b1", "c1", "c2", "c3"],
    ]);
  });

  it("sends a lone event's jobs as they are, answering what the queue answered", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 3, LONG);
    const [a, b, c] = [shared.member(), shared.member(), shared.member()];
    b.leave();
    const pending = a.enqueue([job("a1"), job("a2")]);
    await tick();
    expect(q.batches).toEqual([]);
    c.leave();
    expect(await pending).toEqual({ sent: 2, requests: 7 });
    expect(q.batches.map((batch) => batch.length)).toEqual([2]);
  });

  it("sends nothing when every event finished without jobs", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 2, LONG);
    const [a, b] = [shared.member(), shared.member()];
    a.leave();
    b.leave();
    await tick();
    expect(q.batches).toEqual([]);
  });

  it("passes an empty enqueue and a second enqueue of the same event straight to the queue", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 2, LONG);
    const [a, b] = [shared.member(), shared.member()];
    expect(await a.enqueue([])).toEqual({ sent: 0, requests: 7 });
    expect(q.batches).toEqual([[]]);
    // The empty enqueue did not count as a's turn: b alone does not flush.
    const fromB = b.enqueue([job("b1")]);
    await tick();
    expect(q.batches).toHaveLength(1);
    a.leave();
    expect(await fromB).toEqual({ sent: 1, requests: 7 });
    expect(await b.enqueue([job("b2")])).toEqual({ sent: 1, requests: 7 });
    expect(q.batches.map((batch) => batch.map((j) => j.delivery_id))).toEqual([[], ["b1"], ["b2"]]);
  });

  it("counts an event once: leaving after enqueueing does not end the wait for the others", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 2, LONG);
    const [a, b] = [shared.member(), shared.member()];
    const fromA = a.enqueue([job("a1")]);
    a.leave();
    a.leave();
    await tick();
    expect(q.batches).toEqual([]);
    b.leave();
    expect(await fromA).toEqual({ sent: 1, requests: 7 });
  });

  it("does not hold ready jobs past its wait, and sends a late event's jobs on their own", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 3, 20);
    const [a, b, c] = [shared.member(), shared.member(), shared.member()];
    const first = Promise.all([a.enqueue([job("a1")]), b.enqueue([job("b1")])]);
    expect(await first).toEqual([
      { sent: 1, requests: 7 },
      { sent: 1, requests: 7 },
    ]);
    expect(q.batches.map((batch) => batch.map((j) => j.delivery_id))).toEqual([["a1", "b1"]]);
    expect(await c.enqueue([job("c1")])).toEqual({ sent: 1, requests: 7 });
    expect(q.batches.map((batch) => batch.map((j) => j.delivery_id))).toEqual([["a1", "b1"], ["c1"]]);
    // The wait's timer, already spent or cleared, sends nothing more: nothing to await but its
    // deadline passing (20 ms), so this waits twice that once.
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(q.batches).toHaveLength(2);
  });

  it("clears its wait when the last event arrives first, so nothing is sent twice", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 2, 20);
    const [a, b] = [shared.member(), shared.member()];
    const both = Promise.all([a.enqueue([job("a1")]), b.enqueue([job("b1")])]);
    await both;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(q.batches).toHaveLength(1);
  });

  it("fails only the events whose jobs SQS refused; the others are told their jobs went out", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 3, LONG);
    const [a, b, c] = [shared.member(), shared.member(), shared.member()];
    const refused = new EnqueueFailedError(1, ["ThrottlingException"], ["b2"]);
    q.failNext = refused;
    const settled = await Promise.allSettled([
      a.enqueue([job("a1")]),
      b.enqueue([job("b1"), job("b2")]),
      c.enqueue([job("c1")]),
    ]);
    expect(settled).toEqual([
      { status: "fulfilled", value: { sent: 1, requests: 0 } },
      { status: "rejected", reason: refused },
      { status: "fulfilled", value: { sent: 1, requests: 0 } },
    ]);
  });

  it("fails every event when the failure does not say which jobs were refused", async () => {
    for (const error of [new EnqueueFailedError(2, ["InternalError"]), new Error("socket hang up")]) {
      const q = queue();
      const shared = sharedEnqueue(q, 2, LONG);
      const [a, b] = [shared.member(), shared.member()];
      q.failNext = error;
      const settled = await Promise.allSettled([a.enqueue([job("a1")]), b.enqueue([job("b1")])]);
      expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected"]);
    }
    // A lone event's failure is its own.
    const q = queue();
    const shared = sharedEnqueue(q, 1, LONG);
    q.failNext = new Error("socket hang up");
    await expect(shared.member().enqueue([job("x")])).rejects.toThrow("socket hang up");
  });

  it("sends once the wait is over even when one event never finishes", async () => {
    const q = queue();
    const shared = sharedEnqueue(q, 2, 20);
    const a = shared.member();
    shared.member();
    const started = Date.now();
    const result: EnqueueResult = await a.enqueue([job("a1")]);
    expect(result).toEqual({ sent: 1, requests: 7 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    await waitFor(() => q.batches.length === 1);
  });
});
