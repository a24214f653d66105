import { describe, expect, it } from "vitest";
import type { DeliveryRecord } from "#shared/domain/delivery/delivery.ts";
import { type DeliveryJob, serializeDeliveryJob } from "#shared/domain/delivery/job.ts";
import type { CloseDeliveryInput } from "#shared/domain/ports/deliveries.ts";
import type { BackstopArrival } from "#shared/domain/ports/queues.ts";
import { type BackstopDependencies, reconcileBackstopArrivals } from "#shared/services/delivery/backstop.ts";

/**
 * The backstop pass over in-memory ports: what it closes, what it puts on the dead-letter queue (with
 * which reason and attributes), what it deletes from the backstop queue and what it leaves there.
 */

const NOW = new Date("2026-12-01T10:00:00.000Z");

/** A delivery id (a UUID, as jobs carry) named by a short tag: D("d1"). */
const D = (tag: string) => `0190a000-0000-7000-8000-0000000000${tag}`;

const job = (id: string, token?: string): DeliveryJob => ({
  v: 1,
  delivery_id: D(id),
  webhook_id: `msg_webhook${id}`,
  subscription_id: "0190a000-0000-7000-8000-00000000000a",
  customer_id: "0190a000-0000-7000-8000-0000000000c1",
  event_id: `0190a000-0000-7000-8000-0000000000e${id.slice(-1)}`,
  event_type: "call_hangup",
  payload: "{}",
  ...(token !== undefined ? { token } : {}),
});

const arrival = (messageId: string, body: string): BackstopArrival => ({
  messageId,
  receiptHandle: `rh-${messageId}`,
  body,
});

interface Fixture {
  /** Answers of successive receives; an exhausted list answers empty. */
  receives: BackstopArrival[][];
  /** Delivery ids `close` refuses (not the live job, or already finished). */
  closeRefused?: Set<string>;
  /** What `get` answers per delivery id after a refused close. */
  records?: Map<string, Pick<DeliveryRecord, "status" | "dead_reason">>;
  deadLettered?: Set<string>;
}

function pass(fixture: Fixture) {
  const deleted: string[] = [];
  const released: string[] = [];
  const waits: number[] = [];
  const visibilities: number[] = [];
  const closes: CloseDeliveryInput[] = [];
  const dlq: { job: DeliveryJob; reason: string; details: Record<string, string> | undefined }[] = [];
  const marked: string[] = [];
  const logs: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const log =
    (level: string) =>
    (message: string, ...attributes: Record<string, unknown>[]) =>
      void logs.push({ level, message, attributes: Object.assign({}, ...attributes) });
  const deadLettered = fixture.deadLettered ?? new Set<string>();
  const deps: BackstopDependencies = {
    backstop: {
      receive: async (wait, visibility) => {
        waits.push(wait ?? -1);
        visibilities.push(visibility ?? -1);
        return fixture.receives.shift() ?? [];
      },
      release: async (receiptHandle) => void released.push(receiptHandle),
      delete: async (receiptHandle) => void deleted.push(receiptHandle),
    },
    deadLetters: {
      send: async (j, reason, details) => {
        dlq.push({ job: j, reason, details });
        return `dlq-${dlq.length}`;
      },
    },
    deliveries: {
      close: async (input) => {
        closes.push(input);
        return !(fixture.closeRefused?.has(input.delivery.delivery_id) ?? false);
      },
      get: async (_customerId, deliveryId) => {
        const record = fixture.records?.get(deliveryId);
        return record === undefined ? null : ({ ...record, id: deliveryId } as DeliveryRecord);
      },
      isDeadLettered: async (_customerId, deliveryId) => deadLettered.has(deliveryId),
      markDeadLettered: async (_customerId, deliveryId) => {
        deadLettered.add(deliveryId);
        marked.push(deliveryId);
      },
    },
    retentionDays: 30,
    logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    now: () => NOW,
  };
  return { deps, deleted, released, waits, visibilities, closes, dlq, marked, logs, deadLettered };
}

describe("the backstop pass", () => {
  it("closes each arrival's delivery as dead (internal), dead-letters its job, then deletes it", async () => {
    const a = job("d1");
    const b = job("d2", "token-2");
    const p = pass({
      receives: [[arrival("m1", serializeDeliveryJob(a)), arrival("m2", serializeDeliveryJob(b))]],
    });
    expect(await reconcileBackstopArrivals(p.deps)).toEqual({
      examined: 2,
      reconciled: 2,
      unreadable: 0,
      drained: true,
    });
    expect(p.closes).toEqual([
      { delivery: a, reason: "internal", now: NOW, retentionDays: 30, liveJob: "msg:m1" },
      { delivery: b, reason: "internal", now: NOW, retentionDays: 30, liveJob: "token-2" },
    ]);
    expect(p.dlq).toEqual([
      { job: a, reason: "internal", details: { moved_by: "backstop", original_message_id: "m1" } },
      { job: b, reason: "internal", details: { moved_by: "backstop", original_message_id: "m2" } },
    ]);
    expect(p.marked).toEqual([D("d1"), D("d2")]);
    expect(p.deleted).toEqual(["rh-m1", "rh-m2"]);
    expect(p.released).toEqual([]);
    expect(p.waits).toEqual([1, 1]);
    expect(p.visibilities).toEqual([300, 300]);
    expect(p.logs.filter((l) => l.level === "error")).toEqual([
      {
        level: "error",
        message: "backstop arrival reconciled: delivery closed as dead (reason internal)",
        attributes: {
          delivery_id: D("d1"),
          message_id: "m1",
          record_closed: true,
          already_dead_lettered: false,
        },
      },
      {
        level: "error",
        message: "backstop arrival reconciled: delivery closed as dead (reason internal)",
        attributes: {
          delivery_id: D("d2"),
          message_id: "m2",
          record_closed: true,
          already_dead_lettered: false,
        },
      },
    ]);
  });

  it("leaves an arrival that is not a delivery job for an operator, and says so", async () => {
    const p = pass({
      receives: [[arrival("m1", "not a job"), arrival("m2", serializeDeliveryJob(job("d2")))]],
    });
    expect(await reconcileBackstopArrivals(p.deps)).toEqual({
      examined: 2,
      reconciled: 1,
      unreadable: 1,
      drained: true,
    });
    expect(p.deleted).toEqual(["rh-m2"]);
    expect(p.logs[0]).toEqual({
      level: "error",
      message: "backstop arrival is not a delivery job; left on the backstop queue for an operator",
      attributes: { message_id: "m1" },
    });
  });

  it("only deletes a stale arrival whose delivery goes on or finished, never dead-lettering it", async () => {
    const p = pass({
      receives: [
        [
          arrival("m1", serializeDeliveryJob(job("d1"))),
          arrival("m2", serializeDeliveryJob(job("d2"))),
          arrival("m3", serializeDeliveryJob(job("d3"))),
        ],
      ],
      closeRefused: new Set([D("d1"), D("d2"), D("d3")]),
      records: new Map([
        [D("d1"), { status: "succeeded", dead_reason: null }],
        [D("d2"), { status: "dead", dead_reason: "attempts_exhausted" }],
      ]),
    });
    expect(await reconcileBackstopArrivals(p.deps)).toMatchObject({ examined: 3, reconciled: 3 });
    expect(p.dlq).toEqual([]);
    expect(p.deleted).toEqual(["rh-m1", "rh-m2", "rh-m3"]);
    expect(p.logs.map((l) => [l.level, l.message, l.attributes.status])).toEqual([
      ["warn", "stale backstop arrival deleted: its delivery is not closed by the backstop", "succeeded"],
      ["warn", "stale backstop arrival deleted: its delivery is not closed by the backstop", "dead"],
      ["warn", "stale backstop arrival deleted: its delivery is not closed by the backstop", null],
    ]);
    expect(p.logs[0]?.attributes).toEqual({ delivery_id: D("d1"), message_id: "m1", status: "succeeded" });
  });

  it("finishes what a crashed pass began: dead-letters once, and only deletes when already dead-lettered", async () => {
    const closedBefore = pass({
      receives: [[arrival("m1", serializeDeliveryJob(job("d1")))]],
      closeRefused: new Set([D("d1")]),
      records: new Map([[D("d1"), { status: "dead", dead_reason: "internal" }]]),
    });
    await reconcileBackstopArrivals(closedBefore.deps);
    expect(closedBefore.dlq).toHaveLength(1);
    expect(closedBefore.deleted).toEqual(["rh-m1"]);
    expect(closedBefore.logs.at(-1)?.attributes).toMatchObject({
      record_closed: false,
      already_dead_lettered: false,
    });

    const sentBefore = pass({
      receives: [[arrival("m1", serializeDeliveryJob(job("d1")))]],
      deadLettered: new Set([D("d1")]),
    });
    await reconcileBackstopArrivals(sentBefore.deps);
    expect(sentBefore.dlq).toEqual([]);
    expect(sentBefore.marked).toEqual([]);
    expect(sentBefore.deleted).toEqual(["rh-m1"]);
    expect(sentBefore.logs.at(-1)?.attributes).toMatchObject({ already_dead_lettered: true });
  });

  it("looks at each arrival once though a receive hands it over again", async () => {
    const body = serializeDeliveryJob(job("d1"));
    const p = pass({
      receives: [
        [arrival("m1", body)],
        [arrival("m1", body), arrival("m2", serializeDeliveryJob(job("d2")))],
      ],
    });
    expect(await reconcileBackstopArrivals(p.deps)).toEqual({
      examined: 2,
      reconciled: 2,
      unreadable: 0,
      drained: true,
    });
    expect(p.dlq.map((d) => d.job.delivery_id)).toEqual([D("d1"), D("d2")]);
  });

  it("in a dry run counts the arrivals, changes nothing and makes them visible again", async () => {
    const p = pass({
      receives: [[arrival("m1", serializeDeliveryJob(job("d1"))), arrival("m2", "not a job")]],
    });
    expect(await reconcileBackstopArrivals(p.deps, { dryRun: true })).toEqual({
      examined: 2,
      reconciled: 2,
      unreadable: 0,
      drained: true,
    });
    expect(p.closes).toEqual([]);
    expect(p.dlq).toEqual([]);
    expect(p.deleted).toEqual([]);
    expect(p.released).toEqual(["rh-m1", "rh-m2"]);
  });

  it("releases what a dry run hid even when a receive fails", async () => {
    const p = pass({ receives: [[arrival("m1", serializeDeliveryJob(job("d1")))]] });
    const receive = p.deps.backstop.receive;
    let calls = 0;
    const deps = {
      ...p.deps,
      backstop: {
        ...p.deps.backstop,
        receive: async (wait?: number, visibility?: number) => {
          if (++calls === 2) throw new Error("sqs unavailable");
          return receive(wait, visibility);
        },
      },
    };
    await expect(reconcileBackstopArrivals(deps, { dryRun: true })).rejects.toThrow("sqs unavailable");
    expect(p.released).toEqual(["rh-m1"]);
  });

  it("stops at its deadline, shortening the last wait to end by then, and says it did not drain", async () => {
    const body = (id: string) => [arrival(id, serializeDeliveryJob(job(`d${id.slice(-1)}`)))];
    const p = pass({ receives: [body("m1"), body("m2"), body("m3")] });
    expect(await reconcileBackstopArrivals(p.deps, { deadlineMs: Date.now() - 1 })).toEqual({
      examined: 0,
      reconciled: 0,
      unreadable: 0,
      drained: false,
    });
    expect(p.waits).toEqual([]);

    const soon = pass({ receives: [body("m1"), body("m2")] });
    const result = await reconcileBackstopArrivals(soon.deps, {
      deadlineMs: Date.now() + 2500,
      waitSeconds: 20,
    });
    expect(result).toEqual({ examined: 2, reconciled: 2, unreadable: 0, drained: true });
    // 2.5 s left: a wait of 2 s (whole seconds, never past the deadline), not the 20 s asked for.
    expect(soon.waits[0]).toBe(2);
  });
});
