import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { HEALTHY } from "#shared/domain/delivery/endpoint-health.ts";
import { type DeliveryJob, TEST_EVENT_HEADER } from "#shared/domain/delivery/job.ts";
import { KeptOnQueueSignal } from "#shared/domain/errors.ts";
import type { DeliveryState } from "#shared/domain/ports/deliveries.ts";
import { LEGACY_TRANSPORT } from "#shared/domain/ports/sender.ts";
import { managedSubscriptionId } from "#shared/domain/subscriptions/managed.ts";
import { newSubscription, type SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";
import { USER_AGENT } from "#shared/domain/version.ts";
import {
  DeliveryBatch,
  type DeliveryDependencies,
  type ReceivedJob,
} from "#shared/services/delivery/deliver.ts";
import { FakeEndpointHealthStore, fairLanesOver, TEST_FAIRNESS_POLICY } from "../support/fairness.ts";
import { MemoryDeliveryPorts } from "../support/memory-stores.ts";

/**
 * DeliveryBatch (shared/services/delivery/deliver.ts) over in-memory ports: what the endpoint
 * receives, what the delivery log records, what goes back on the queue (and when), and what reaches
 * the dead-letter queue. The same paths run end to end in test/integration/single-chain.test.ts and
 * delivery-records.test.ts against the emulators; these run in milliseconds, so StrykerJS can run
 * them against every mutant of deliver.ts (docs/benchmarks.md, "Mutation testing").
 */

// Near the real clock: standardwebhooks' verify refuses a timestamp 5 minutes away from it.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const SCHEDULE = [5, 30, 120];
const PAYLOAD = JSON.stringify({ type: "call_hangup", data: { id: "call-1" } });

function subscriptionOf(fields: Partial<SubscriptionWithSecrets> = {}): SubscriptionWithSecrets {
  return {
    ...newSubscription({ customer_id: "c-1", url: "https://hooks.example/in" }, NOW),
    headers: { "x-team": "ops" },
    ...fields,
  };
}

function jobFor(subscription: SubscriptionWithSecrets, fields: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    delivery_id: "dlv-1",
    customer_id: subscription.customer_id,
    subscription_id: subscription.id,
    event_id: "ev-1",
    event_type: "call_hangup",
    webhook_id: "msg_2kZ9",
    payload: PAYLOAD,
    ...fields,
  } as DeliveryJob;
}

function received(job: DeliveryJob, fields: Partial<ReceivedJob> = {}): ReceivedJob {
  return { job, messageId: "m-1", receiptHandle: "rh-1", receiveCount: 1, ...fields };
}

function failedState(fields: Partial<DeliveryState> = {}): DeliveryState {
  return {
    event_id: "ev-1",
    status: "failed",
    dead_reason: null,
    succeeded_at: null,
    next_attempt_at: NOW.toISOString(),
    chain_attempts: 1,
    live_job: "w-live",
    prev_job: "msg:m-0",
    dead_lettered_at: null,
    held_ms: 0,
    ...fields,
  };
}

function setup(subscription: SubscriptionWithSecrets | null = subscriptionOf()) {
  const ports = new MemoryDeliveryPorts();
  if (subscription !== null) ports.subscriptionsById.set(subscription.id, subscription);
  let ids = 0;
  const deps: DeliveryDependencies = {
    settings: {
      retrySchedule: SCHEDULE,
      jitter: 0,
      timeoutMs: 5_000,
      maxResponseBodyBytes: 1_024,
      autoDisableAfterSeconds: 3_600,
      retentionDays: 30,
    },
    loadBatch: ports.loadBatch,
    subscriptions: ports.subscriptions as unknown as DeliveryDependencies["subscriptions"],
    deliveries: ports.deliveries as unknown as DeliveryDependencies["deliveries"],
    queue: ports.queue as unknown as DeliveryDependencies["queue"],
    deadLetters: ports.deadLetters as unknown as DeliveryDependencies["deadLetters"],
    backstop: ports.backstop as unknown as DeliveryDependencies["backstop"],
    sender: ports.sender,
    shadowLog: ports.shadowLog as unknown as DeliveryDependencies["shadowLog"],
    operationalEvents: ports.operationalEvents as unknown as DeliveryDependencies["operationalEvents"],
    logger: ports.logger,
    now: () => NOW,
    random: () => 0.5,
    newId: () => `id-${++ids}`,
  };
  return { ports, deps };
}

async function deliverOne(deps: DeliveryDependencies, job: DeliveryJob, fields: Partial<ReceivedJob> = {}) {
  const batch = await DeliveryBatch.load([job], deps);
  return batch.deliver(received(job, fields));
}

describe("DeliveryBatch: a job the endpoint accepts", () => {
  it("sends the payload signed with the subscription's secret, and records the attempt succeeded", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const job = jobFor(subscription);

    expect(await deliverOne(deps, job)).toBe("succeeded");

    expect(ports.requests).toHaveLength(1);
    const [request] = ports.requests;
    expect(request?.url).toBe("https://hooks.example/in");
    expect(request?.method).toBe(subscription.method);
    expect(request?.body).toBe(PAYLOAD);
    expect(request?.timeoutMs).toBe(5_000);
    expect(request?.maxResponseBodyBytes).toBe(1_024);
    expect(request?.legacy).toBeUndefined();
    const headers = request?.headers ?? {};
    expect(headers["x-team"]).toBe("ops");
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["user-agent"]).toBe(USER_AGENT);
    expect(headers["webhook-id"]).toBe("msg_2kZ9");
    expect(headers["webhook-timestamp"]).toBe(String(NOW.getTime() / 1000));
    expect(headers).not.toHaveProperty(TEST_EVENT_HEADER);
    expect(new Webhook(subscription.secret).verify(PAYLOAD, headers)).toEqual(JSON.parse(PAYLOAD));

    expect(ports.attempts).toHaveLength(1);
    const [write] = ports.attempts;
    expect(write?.status).toBe("succeeded");
    expect(write?.deadReason).toBeNull();
    expect(write?.nextAttemptAt).toBeNull();
    expect(write?.liveJob).toBe("msg:m-1");
    expect(write?.retentionDays).toBe(30);
    expect(write?.now).toEqual(NOW);
    expect(write?.existing).toBeUndefined();
    expect(write?.handOffTo).toBeUndefined();
    expect(write?.attempt).toMatchObject({
      at: NOW.toISOString(),
      status_code: 200,
      error: null,
      latency_ms: 12,
      response_body: "ok",
      request: { method: subscription.method, url: "https://hooks.example/in" },
      timing: {},
    });
    expect(write?.attempt.request?.headers["webhook-id"]).toBe("msg_2kZ9");
    expect(ports.resent).toEqual([]);
    expect(ports.deadLettered).toEqual([]);
    expect(ports.failingMarks).toEqual([]);
    expect(ports.logs.at(-1)).toMatchObject({
      fields: { delivery_id: "dlv-1", attempt: 1, status_code: 200, latency_ms: 12, error: null },
    });
  });

  it("marks a test delivery with the test-event header", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    await deliverOne(deps, jobFor(subscription, { test: true }));
    expect(ports.requests[0]?.headers[TEST_EVENT_HEADER]).toBe("true");
  });

  it("masks a URL's password in the delivery log, but sends it", async () => {
    const subscription = subscriptionOf({ url: "https://user:hunter2@hooks.example/in" });
    const { ports, deps } = setup(subscription);
    await deliverOne(deps, jobFor(subscription));
    expect(ports.requests[0]?.url).toBe("https://user:hunter2@hooks.example/in");
    expect(ports.attempts[0]?.attempt.request?.url).toBe("https://user:redacted@hooks.example/in");
  });

  it("reports every attempt's latency and answer to onAttempt", async () => {
    const subscription = subscriptionOf();
    const { deps } = setup(subscription);
    const samples: unknown[] = [];
    await deliverOne({ ...deps, onAttempt: (sample) => samples.push(sample) }, jobFor(subscription));
    expect(samples).toEqual([{ latencyMs: 12, statusCode: 200, error: null }]);
  });
});

describe("DeliveryBatch: a retryable failure", () => {
  it("records the attempt failed and re-sends the job, delayed, with the same webhook-id and a new live token", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.answers = [
      { kind: "response", statusCode: 503, retryAfter: null, responseBody: "down", latencyMs: 40 },
    ];
    const job = jobFor(subscription);

    expect(await deliverOne(deps, job)).toBe("retry_scheduled");

    const [write] = ports.attempts;
    expect(write?.status).toBe("failed");
    expect(write?.deadReason).toBeNull();
    expect(write?.nextAttemptAt).toBe(new Date(NOW.getTime() + 5_000).toISOString());
    expect(write?.handOffTo).toBe("w-id-1");
    expect(write?.attempt).toMatchObject({
      status_code: 503,
      response_body: "down",
      timing: { retry_at: new Date(NOW.getTime() + 5_000).toISOString() },
    });
    expect(ports.resent).toEqual([{ job: { ...job, token: "w-id-1" }, delaySeconds: 5 }]);
    expect(ports.resent[0]?.job.webhook_id).toBe("msg_2kZ9");
    expect(ports.deadLettered).toEqual([]);
    // The first failure starts the endpoint's failing streak, announced once.
    expect(ports.failingMarks).toEqual([{ id: subscription.id, since: NOW.toISOString() }]);
    expect(ports.warnings.map((w) => w.type)).toEqual(["webhook_endpoint_failing"]);
    expect(ports.warnings[0]?.data).toMatchObject({
      subscription_id: subscription.id,
      delivery_id: "dlv-1",
      failing_since: NOW.toISOString(),
      last_attempt: { status_code: 503 },
    });
    expect(ports.logs.at(-1)?.fields).toMatchObject({ delay_seconds: 5, wait_seconds: 5, attempt: 1 });
  });

  it("counts the attempt from the record: the second attempt waits the schedule's second delay", async () => {
    const subscription = subscriptionOf({ failing_since: NOW.toISOString() });
    const { ports, deps } = setup(subscription);
    ports.states.set("dlv-1", failedState({ live_job: "w-live", held_ms: 250 }));
    ports.answers = [{ kind: "error", error: "timeout", message: "no answer in 5 s", latencyMs: 5_000 }];
    const job = jobFor(subscription, { token: "w-live" });

    expect(await deliverOne(deps, job, { lane: "slow" })).toBe("retry_scheduled");

    const [write] = ports.attempts;
    expect(write?.liveJob).toBe("w-live");
    expect(write?.existing).toEqual(failedState({ live_job: "w-live", held_ms: 250 }));
    expect(write?.attempt).toMatchObject({
      status_code: null,
      error: "timeout: no answer in 5 s",
      response_body: null,
      timing: { due_at: NOW.toISOString(), held_ms: 250, slow_lane: true },
    });
    expect(ports.resent).toEqual([{ job: { ...job, token: "w-id-1" }, delaySeconds: 30 }]);
    // Already failing: no second mark, no second warning.
    expect(ports.failingMarks).toEqual([]);
    expect(ports.warnings).toEqual([]);
    expect(ports.logs.at(-1)?.fields).toMatchObject({ attempt: 2, error: "timeout" });
  });
});

describe("DeliveryBatch: the last attempt fails", () => {
  it("records it dead (attempts_exhausted), puts the job on the DLQ with its reason, and announces it", async () => {
    const subscription = subscriptionOf({ failing_since: NOW.toISOString() });
    const { ports, deps } = setup(subscription);
    ports.states.set("dlv-1", failedState({ chain_attempts: 3, live_job: "w-live" }));
    ports.answers = [{ kind: "response", statusCode: 500, retryAfter: null, responseBody: "", latencyMs: 3 }];
    const job = jobFor(subscription, { token: "w-live" });

    expect(await deliverOne(deps, job)).toBe("dead");

    const [write] = ports.attempts;
    expect(write?.status).toBe("dead");
    expect(write?.deadReason).toBe("attempts_exhausted");
    expect(write?.nextAttemptAt).toBeNull();
    expect(write?.handOffTo).toBeUndefined();
    expect(ports.resent).toEqual([]);
    expect(ports.deadLettered).toEqual([{ job, reason: "attempts_exhausted" }]);
    expect(ports.markedDeadLettered).toEqual(["dlv-1"]);
    expect(ports.warnings.map((w) => w.type)).toEqual(["webhook_delivery_exhausted"]);
    expect(ports.warnings[0]?.data).toMatchObject({
      delivery_id: "dlv-1",
      event_id: "ev-1",
      webhook_id: "msg_2kZ9",
      attempts: 4,
      last_attempt: { status_code: 500 },
    });
    expect(ports.logs.at(-1)).toMatchObject({ level: "warn", fields: { attempt: 4 } });
  });

  it("does not announce the exhaustion of a system event (no feedback loop between endpoints)", async () => {
    const subscription = subscriptionOf({ failing_since: NOW.toISOString() });
    const { ports, deps } = setup(subscription);
    ports.states.set("dlv-1", failedState({ chain_attempts: 3, live_job: "w-live" }));
    ports.answers = [{ kind: "response", statusCode: 500, retryAfter: null, responseBody: "", latencyMs: 3 }];
    const job = jobFor(subscription, { token: "w-live", event_type: "webhook_delivery_exhausted" });

    expect(await deliverOne(deps, job)).toBe("dead");
    expect(ports.deadLettered).toEqual([{ job, reason: "attempts_exhausted" }]);
    expect(ports.warnings).toEqual([]);
  });

  it("410 Gone: dead (endpoint_gone), the subscription disabled, nothing on the DLQ", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.answers = [{ kind: "response", statusCode: 410, retryAfter: null, responseBody: "", latencyMs: 3 }];

    expect(await deliverOne(deps, jobFor(subscription))).toBe("endpoint_gone");
    expect(ports.attempts[0]?.deadReason).toBe("endpoint_gone");
    expect(ports.disabled).toEqual([{ id: subscription.id, reason: "endpoint_gone" }]);
    expect(ports.deadLettered).toEqual([]);
    expect(ports.resent).toEqual([]);
  });
});

describe("DeliveryBatch: jobs that are not attempted", () => {
  it("a deleted subscription: nothing sent, the delivery closed as subscription_deleted", async () => {
    const gone = subscriptionOf();
    const { ports, deps } = setup(null);
    expect(await deliverOne(deps, jobFor(gone))).toBe("dropped_deleted");
    expect(ports.requests).toEqual([]);
    expect(ports.attempts).toEqual([]);
    expect(ports.closed).toHaveLength(1);
    expect(ports.closed[0]).toMatchObject({
      reason: "subscription_deleted",
      liveJob: "msg:m-1",
      retentionDays: 30,
      now: NOW,
    });
    expect(ports.closed[0]?.delivery.delivery_id).toBe("dlv-1");
    expect(ports.logs.at(-1)?.message).toContain("subscription deleted");
  });

  it("a disabled subscription: nothing sent, the delivery closed as subscription_disabled", async () => {
    const subscription = subscriptionOf({ status: "disabled", disabled_reason: "failing" });
    const { ports, deps } = setup(subscription);
    expect(await deliverOne(deps, jobFor(subscription))).toBe("dropped_disabled");
    expect(ports.requests).toEqual([]);
    expect(ports.closed[0]?.reason).toBe("subscription_disabled");
    expect(ports.deadLettered).toEqual([]);
  });

  it("a stale job (another job is the live one): dropped without a send or a write", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.states.set("dlv-1", failedState({ live_job: "w-other", prev_job: "w-older" }));
    expect(await deliverOne(deps, jobFor(subscription, { token: "w-mine" }))).toBe("stale");
    expect(ports.requests).toEqual([]);
    expect(ports.attempts).toEqual([]);
    expect(ports.closed).toEqual([]);
    expect(ports.resent).toEqual([]);
  });

  it("a delivery that already succeeded is not sent again", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.states.set(
      "dlv-1",
      failedState({ status: "succeeded", succeeded_at: NOW.toISOString(), live_job: "msg:m-1" }),
    );
    expect(await deliverOne(deps, jobFor(subscription))).toBe("skipped_already_succeeded");
    expect(ports.requests).toEqual([]);
  });

  it("a dead delivery whose DLQ move was lost is put on the DLQ, not sent", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.states.set(
      "dlv-1",
      failedState({ status: "dead", dead_reason: "attempts_exhausted", live_job: "msg:m-1" }),
    );
    const job = jobFor(subscription);
    expect(await deliverOne(deps, job)).toBe("dead_letter_resent");
    expect(ports.requests).toEqual([]);
    expect(ports.deadLettered).toEqual([{ job, reason: "attempts_exhausted" }]);
    expect(ports.markedDeadLettered).toEqual(["dlv-1"]);
  });

  it("a job woken before its time is re-sent under a new token for the rest of its wait", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const due = new Date(NOW.getTime() + 60_000).toISOString();
    ports.states.set("dlv-1", failedState({ live_job: "msg:m-1", next_attempt_at: due }));
    const job = jobFor(subscription);
    expect(await deliverOne(deps, job)).toBe("slept");
    expect(ports.requests).toEqual([]);
    expect(ports.handOffs).toEqual([
      {
        delivery: job,
        fromJob: "msg:m-1",
        toJob: "w-id-1",
        nextAttemptAt: due,
        now: NOW,
        retentionDays: 30,
      },
    ]);
    expect(ports.resent).toEqual([{ job: { ...job, token: "w-id-1" }, delaySeconds: 60 }]);
  });

  it("two copies of one job in a batch: sent once, the second reported duplicate_in_batch", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const job = jobFor(subscription);
    const batch = await DeliveryBatch.load([job, job], deps);
    const outcomes = await Promise.all([
      batch.deliver(received(job)),
      batch.deliver(received(job, { messageId: "m-2", receiptHandle: "rh-2" })),
    ]);
    expect(outcomes).toEqual(["succeeded", "duplicate_in_batch"]);
    expect(ports.requests).toHaveLength(1);
  });
});

describe("DeliveryBatch: the record refuses the write", () => {
  it("superseded (a duplicate delivered it meanwhile): nothing re-sent, nothing dead-lettered", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.recordResult = "superseded";
    ports.answers = [{ kind: "response", statusCode: 500, retryAfter: null, responseBody: "", latencyMs: 3 }];
    expect(await deliverOne(deps, jobFor(subscription))).toBe("superseded");
    expect(ports.resent).toEqual([]);
    expect(ports.failingMarks).toEqual([]);
    expect(ports.deadLettered).toEqual([]);
  });
});

const FAILED_500 = {
  kind: "response",
  statusCode: 500,
  retryAfter: null,
  responseBody: "",
  latencyMs: 3,
} as const;
const ACTIVEFLOW = "0193a0b4-6f2e-7c3d-8a1b-2c3d4e5f6a7b";

describe("DeliveryBatch: what the job is sent to", () => {
  it("an activeflow destination: its URL and method, the managed subscription's secret, none of its headers", async () => {
    const managed = subscriptionOf({ id: managedSubscriptionId("c-1"), method: "POST" });
    const { ports, deps } = setup(managed);
    const job = jobFor(managed, {
      subscription_id: "dest-1",
      destination: {
        kind: "activeflow",
        activeflow_id: ACTIVEFLOW,
        url: "https://flow.example/hook",
        method: "PUT",
      },
    } as Partial<DeliveryJob>);
    expect(await deliverOne(deps, job)).toBe("succeeded");
    const [request] = ports.requests;
    expect(request?.url).toBe("https://flow.example/hook");
    expect(request?.method).toBe("PUT");
    expect(request?.headers).not.toHaveProperty("x-team");
    expect(new Webhook(managed.secret).verify(PAYLOAD, request?.headers ?? {})).toEqual(JSON.parse(PAYLOAD));
  });

  it("an activeflow destination without the customer's managed subscription is dropped as deleted", async () => {
    const other = subscriptionOf();
    const { ports, deps } = setup(other);
    const job = jobFor(other, {
      destination: {
        kind: "activeflow",
        activeflow_id: ACTIVEFLOW,
        url: "https://flow.example/hook",
        method: "POST",
      },
    } as Partial<DeliveryJob>);
    expect(await deliverOne(deps, job)).toBe("dropped_deleted");
    expect(ports.requests).toEqual([]);
  });

  it("the legacy profile: VoIPBIN's transport (30 s, redirects followed)", async () => {
    const subscription = subscriptionOf({ delivery_profile: "legacy" });
    const { ports, deps } = setup(subscription);
    await deliverOne(deps, jobFor(subscription));
    expect(ports.requests[0]?.timeoutMs).toBe(LEGACY_TRANSPORT.timeoutMs);
    expect(ports.requests[0]?.legacy).toEqual(LEGACY_TRANSPORT);
  });

  it("logs an id collision (the record is another event's) and still judges the job by it", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.states.set("dlv-1", failedState({ event_id: "ev-other", live_job: "msg:m-1" }));
    await deliverOne(deps, jobFor(subscription));
    expect(ports.logs.find((l) => l.level === "error")).toMatchObject({
      message: "delivery id collision: the record is another event's",
      fields: { delivery_id: "dlv-1", record_event_id: "ev-other", event_id: "ev-1" },
    });
    expect(ports.attempts[0]?.attempt.timing).toMatchObject({ due_at: NOW.toISOString() });
  });
});

describe("DeliveryBatch: shadow mode", () => {
  it("signs and records the request in the shadow log instead of sending it", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const job = jobFor(subscription, { shadow: true });
    expect(await deliverOne(deps, job)).toBe("shadowed");
    expect(ports.requests).toEqual([]);
    expect(ports.attempts).toEqual([]);
    expect(ports.shadowed).toHaveLength(1);
    const entry = ports.shadowed[0] as Record<string, unknown> & { headers: Record<string, string> };
    expect(entry).toMatchObject({
      at: NOW.toISOString(),
      signed_at: NOW.toISOString(),
      customer_id: "c-1",
      subscription_id: subscription.id,
      event_id: "ev-1",
      event_type: "call_hangup",
      delivery_id: "dlv-1",
      webhook_id: "msg_2kZ9",
      method: subscription.method,
      url: "https://hooks.example/in",
      body_bytes: Buffer.byteLength(PAYLOAD),
    });
    expect(entry.body_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(new Webhook(subscription.secret).verify(PAYLOAD, entry.headers)).toEqual(JSON.parse(PAYLOAD));
    expect(ports.logs.at(-1)).toMatchObject({
      message: "delivery shadowed: recorded, not sent",
      fields: { shadowed: true },
    });
  });

  it("drops a shadow job of a deleted or disabled subscription without recording it", async () => {
    const disabled = subscriptionOf({ status: "disabled", disabled_reason: "failing" });
    const a = setup(disabled);
    expect(await deliverOne(a.deps, jobFor(disabled, { shadow: true }))).toBe("dropped_disabled");
    const b = setup(null);
    expect(await deliverOne(b.deps, jobFor(disabled, { shadow: true }))).toBe("dropped_deleted");
    expect([...a.ports.shadowed, ...b.ports.shadowed]).toEqual([]);
    expect(a.ports.closed).toEqual([]);
    expect(a.ports.logs.at(-1)?.fields).toMatchObject({ shadowed: true });
  });
});

describe("DeliveryBatch: the endpoint's failing streak", () => {
  it("a success after failures clears the streak and announces the recovery", async () => {
    const since = new Date(NOW.getTime() - 600_000).toISOString();
    const subscription = subscriptionOf({ failing_since: since });
    const { ports, deps } = setup(subscription);
    ports.failingSinceToClear = since;
    expect(await deliverOne(deps, jobFor(subscription))).toBe("succeeded");
    expect(ports.warnings).toEqual([
      {
        type: "webhook_endpoint_recovered",
        data: expect.objectContaining({
          subscription_id: subscription.id,
          failing_since: since,
          recovered_at: NOW.toISOString(),
          failing_seconds: 600,
        }),
      },
    ]);
  });

  it("a success when another delivery already cleared the streak announces nothing", async () => {
    const subscription = subscriptionOf({ failing_since: NOW.toISOString() });
    const { ports, deps } = setup(subscription);
    expect(await deliverOne(deps, jobFor(subscription))).toBe("succeeded");
    expect(ports.warnings).toEqual([]);
  });

  it("failing for the whole window: the subscription is disabled (failing) and the delivery ends dead", async () => {
    const since = new Date(NOW.getTime() - 3_600_000).toISOString();
    const subscription = subscriptionOf({ failing_since: since });
    const { ports, deps } = setup(subscription);
    ports.answers = [FAILED_500];
    expect(await deliverOne(deps, jobFor(subscription))).toBe("auto_disabled");
    expect(ports.attempts[0]?.deadReason).toBe("subscription_disabled");
    expect(ports.disabled).toEqual([{ id: subscription.id, reason: "failing" }]);
    expect(ports.announcedDisabled).toEqual([{ id: subscription.id, reason: "failing" }]);
    expect(ports.logs.at(-1)?.fields).toMatchObject({ failing_since: since });
  });

  it("an announcement the bus refuses is an operator's alarm, never a failed delivery", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.announceFailure = new Error("bus down");
    ports.answers = [{ ...FAILED_500, statusCode: 410 }];
    expect(await deliverOne(deps, jobFor(subscription))).toBe("endpoint_gone");
    expect(ports.logs.filter((l) => l.level === "error")).toEqual([
      {
        level: "error",
        message: "could not announce webhook_subscription_disabled",
        fields: expect.objectContaining({ subscription_id: subscription.id, reason: "endpoint_gone" }),
      },
    ]);
    const failing = setup(subscription);
    failing.ports.announceFailure = new Error("bus down");
    failing.ports.answers = [FAILED_500];
    expect(await deliverOne(failing.deps, jobFor(subscription))).toBe("retry_scheduled");
    expect(failing.ports.logs.filter((l) => l.level === "error")).toEqual([
      {
        level: "error",
        message: "could not announce webhook_endpoint_failing",
        fields: expect.objectContaining({ subscription_id: subscription.id }),
      },
    ]);
  });
});

describe("DeliveryBatch: hand-offs that fail or race", () => {
  it("a re-send the queue refuses undoes the hand-off and fails the job (its message comes back)", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.answers = [FAILED_500];
    ports.sendFailure = new Error("SQS unavailable");
    await expect(deliverOne(deps, jobFor(subscription))).rejects.toThrow("SQS unavailable");
    expect(ports.released).toEqual([{ fromJob: "msg:m-1", toJob: "w-id-1" }]);
  });

  it("another receive of the same message recorded first: this copy is kept until the hand-off settles", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.answers = [FAILED_500];
    ports.recordResult = "handed_over";
    await expect(deliverOne(deps, jobFor(subscription))).rejects.toBeInstanceOf(KeptOnQueueSignal);
    // 2 × the 5 s attempt timeout + 10 s.
    expect(ports.held).toEqual([{ receiptHandle: "rh-1", seconds: 20 }]);
    expect(ports.resent).toEqual([]);
  });

  it("a job back from its own hand-off re-sends the live job it named (the successor may never have been sent)", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const due = new Date(NOW.getTime() + 120_000).toISOString();
    ports.states.set("dlv-1", failedState({ live_job: "w-next", prev_job: "msg:m-1", next_attempt_at: due }));
    const job = jobFor(subscription);
    expect(await deliverOne(deps, job)).toBe("slept");
    expect(ports.requests).toEqual([]);
    expect(ports.handOffs).toEqual([
      {
        delivery: job,
        fromJob: "w-next",
        toJob: "w-id-1",
        nextAttemptAt: due,
        now: NOW,
        retentionDays: 30,
        resumedBy: "msg:m-1",
      },
    ]);
    expect(ports.resent).toEqual([{ job: { ...job, token: "w-id-1" }, delaySeconds: 120 }]);
  });

  it("back from its hand-off while the successor may be being attempted: kept until it settles", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const due = new Date(NOW.getTime() - 1_000).toISOString();
    ports.states.set("dlv-1", failedState({ live_job: "w-next", prev_job: "msg:m-1", next_attempt_at: due }));
    await expect(deliverOne(deps, jobFor(subscription))).rejects.toBeInstanceOf(KeptOnQueueSignal);
    expect(ports.held).toEqual([{ receiptHandle: "rh-1", seconds: 19 }]);
    expect(ports.handOffs).toEqual([]);
  });

  it("a wait whose hand-off finds another live job ends as stale, nothing re-sent", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.handOffResult = "stale";
    const due = new Date(NOW.getTime() + 60_000).toISOString();
    ports.states.set("dlv-1", failedState({ live_job: "msg:m-1", next_attempt_at: due }));
    expect(await deliverOne(deps, jobFor(subscription))).toBe("stale");
    expect(ports.resent).toEqual([]);
  });

  it("a middle hop of a long wait re-sends the same job for 900 s without a write", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const due = new Date(NOW.getTime() + 3_600_000).toISOString();
    ports.states.set("dlv-1", failedState({ live_job: "w-live", next_attempt_at: due }));
    const job = jobFor(subscription, { token: "w-live" });
    expect(await deliverOne(deps, job)).toBe("slept");
    expect(ports.handOffs).toEqual([]);
    expect(ports.resent).toEqual([{ job, delaySeconds: 900 }]);
    expect(ports.logs.at(-1)?.fields).toMatchObject({ wait_seconds: 900, hop: true });
  });
});

describe("DeliveryBatch: what a mutation run found unguarded", () => {
  it("a stale copy in the same batch as the live one drops itself; the live copy is still delivered", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.states.set("dlv-1", failedState({ live_job: "w-live", prev_job: "w-older" }));
    const old = jobFor(subscription, { token: "w-old" });
    const live = jobFor(subscription, { token: "w-live" });
    const batch = await DeliveryBatch.load([old, live], deps);
    const outcomes = await Promise.all([
      batch.deliver(received(old)),
      batch.deliver(received(live, { messageId: "m-2", receiptHandle: "rh-2" })),
    ]);
    expect(outcomes).toEqual(["stale", "succeeded"]);
    expect(ports.requests).toHaveLength(1);
    expect(ports.attempts[0]?.liveJob).toBe("w-live");
  });

  it("a job back from its hand-off whose successor is in the same batch drops itself instead of resuming", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const due = new Date(NOW.getTime() + 120_000).toISOString();
    ports.states.set("dlv-1", failedState({ live_job: "w-next", prev_job: "msg:m-1", next_attempt_at: due }));
    const back = jobFor(subscription);
    const successor = jobFor(subscription, { token: "w-next" });
    const batch = await DeliveryBatch.load([back, successor], deps);
    expect(await batch.deliver(received(back))).toBe("stale");
    expect(ports.handOffs).toEqual([]);
  });

  it("the second copy of a job whose first copy failed is still removed as a duplicate", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.answers = [FAILED_500];
    ports.sendFailure = new Error("SQS unavailable");
    const job = jobFor(subscription);
    const batch = await DeliveryBatch.load([job, job], deps);
    const first = batch.deliver(received(job));
    const second = batch.deliver(received(job, { messageId: "m-2", receiptHandle: "rh-2" }));
    await expect(first).rejects.toThrow("SQS unavailable");
    expect(await second).toBe("duplicate_in_batch");
  });

  it("a wait whose hand-off another receive made first is kept until it settles", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.handOffResult = "handed_over";
    const due = new Date(NOW.getTime() + 60_000).toISOString();
    ports.states.set("dlv-1", failedState({ live_job: "msg:m-1", next_attempt_at: due }));
    await expect(deliverOne(deps, jobFor(subscription))).rejects.toBeInstanceOf(KeptOnQueueSignal);
    expect(ports.held).toEqual([{ receiptHandle: "rh-1", seconds: 20 }]);
    expect(ports.resent).toEqual([]);
  });

  it("a hold the queue refuses is logged; the copy is still kept on the queue", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.answers = [FAILED_500];
    ports.recordResult = "handed_over";
    ports.holdFailure = new Error("SQS unavailable");
    await expect(deliverOne(deps, jobFor(subscription))).rejects.toBeInstanceOf(KeptOnQueueSignal);
    expect(ports.logs.find((l) => l.level === "warn")).toMatchObject({
      message: "could not shorten the hidden time of a copy kept until its hand-off settled",
      fields: { delivery_id: "dlv-1" },
    });
  });

  it("an undo that fails too is logged, and the original error is what the job fails with", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.answers = [FAILED_500];
    ports.sendFailure = new Error("SQS unavailable");
    ports.releaseFailure = new Error("table throttled");
    await expect(deliverOne(deps, jobFor(subscription))).rejects.toThrow("SQS unavailable");
    expect(ports.logs.find((l) => l.level === "warn")).toMatchObject({
      message: "could not undo a failed hand-off; the job re-sends it when it comes back",
      fields: { delivery_id: "dlv-1" },
    });
  });

  it("an attempt's timing carries no hold and no slow lane when there were none", async () => {
    const subscription = subscriptionOf({ failing_since: NOW.toISOString() });
    const { ports, deps } = setup(subscription);
    ports.states.set("dlv-1", failedState({ live_job: "w-live", held_ms: 0 }));
    ports.answers = [FAILED_500];
    await deliverOne(deps, jobFor(subscription, { token: "w-live" }), { lane: "main" });
    expect(ports.attempts[0]?.attempt.timing).toEqual({
      due_at: NOW.toISOString(),
      retry_at: new Date(NOW.getTime() + 30_000).toISOString(),
    });
  });

  it("a manual retry is attempted unless a success is as recent as its floor", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const succeededAt = new Date(NOW.getTime() - 60_000).toISOString();
    ports.states.set(
      "dlv-1",
      failedState({ status: "succeeded", succeeded_at: succeededAt, live_job: "msg:m-1" }),
    );
    const atFloor = jobFor(subscription, { redeliver_after: succeededAt } as Partial<DeliveryJob>);
    expect(await deliverOne(deps, atFloor)).toBe("skipped_already_succeeded");
    const later = jobFor(subscription, {
      redeliver_after: new Date(NOW.getTime() - 1_000).toISOString(),
    } as Partial<DeliveryJob>);
    expect(await deliverOne(deps, later)).toBe("succeeded");
    expect(ports.requests).toHaveLength(1);
  });

  it("a URL with a user but no password is logged as it is", async () => {
    const subscription = subscriptionOf({ url: "https://user@hooks.example/in" });
    const { ports, deps } = setup(subscription);
    await deliverOne(deps, jobFor(subscription));
    expect(ports.attempts[0]?.attempt.request?.url).toBe("https://user@hooks.example/in");
  });

  it("the legacy profile treats a 404 as final (endpoint_rejected), where the default retries it", async () => {
    const legacy = subscriptionOf({ delivery_profile: "legacy" });
    const a = setup(legacy);
    a.ports.answers = [{ ...FAILED_500, statusCode: 404 }];
    expect(await deliverOne(a.deps, jobFor(legacy))).toBe("endpoint_rejected");
    expect(a.ports.attempts[0]?.deadReason).toBe("endpoint_rejected");
    const standard = subscriptionOf();
    const b = setup(standard);
    b.ports.answers = [{ ...FAILED_500, statusCode: 404 }];
    expect(await deliverOne(b.deps, jobFor(standard))).toBe("retry_scheduled");
  });

  it("a subscription another delivery disabled first is not announced again", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    ports.alreadyDisabled = true;
    ports.answers = [{ ...FAILED_500, statusCode: 410 }];
    expect(await deliverOne(deps, jobFor(subscription))).toBe("endpoint_gone");
    expect(ports.announcedDisabled).toEqual([]);
  });
});

describe("DeliveryBatch: with fair delivery", () => {
  it("dials with the main lane's timeout when the endpoint is healthy", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const { fair } = fairLanesOver(new FakeEndpointHealthStore(HEALTHY), { now: NOW });
    expect(await deliverOne({ ...deps, lanes: fair }, jobFor(subscription))).toBe("succeeded");
    expect(ports.requests[0]?.timeoutMs).toBe(TEST_FAIRNESS_POLICY.timeoutMs);
  });

  it("a first dial another job won defers this one: re-sent after the defer, the hold counted, nothing sent", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const { fair } = fairLanesOver(new FakeEndpointHealthStore(HEALTHY, { firstDial: false }), { now: NOW });
    const job = jobFor(subscription);
    expect(await deliverOne({ ...deps, lanes: fair }, job)).toBe("deferred");
    expect(ports.requests).toEqual([]);
    expect(ports.attempts).toEqual([]);
    const dueAt = new Date(NOW.getTime() + TEST_FAIRNESS_POLICY.firstDialDeferMs).toISOString();
    expect(ports.handOffs).toEqual([
      {
        delivery: job,
        fromJob: "msg:m-1",
        toJob: "w-id-1",
        nextAttemptAt: dueAt,
        now: NOW,
        retentionDays: 30,
        heldMs: TEST_FAIRNESS_POLICY.firstDialDeferMs,
      },
    ]);
    expect(ports.resent).toEqual([{ job: { ...job, token: "w-id-1" }, delaySeconds: 3 }]);
    expect(ports.logs.at(-1)?.fields).toMatchObject({ delivery_id: "dlv-1", wait_seconds: 3 });
  });

  it("a slow endpoint's job is handed to the slow lane without an attempt", async () => {
    const subscription = subscriptionOf();
    const { ports, deps } = setup(subscription);
    const store = new FakeEndpointHealthStore({ ...HEALTHY, slowUntil: NOW.getTime() + 60_000 });
    const { fair, handedOver } = fairLanesOver(store, { now: NOW });
    const job = jobFor(subscription);
    expect(await deliverOne({ ...deps, lanes: fair }, job)).toBe("moved_to_slow_lane");
    expect(ports.requests).toEqual([]);
    expect(ports.attempts).toEqual([]);
    expect(handedOver).toEqual([{ ...job, token: "msg:m-1" }]);
    expect(ports.logs.at(-1)).toMatchObject({ level: "info", fields: { delivery_id: "dlv-1" } });
    expect(ports.logs.at(-1)?.message).not.toBe("");
  });

  it("a batch whose subscriptions are all gone asks fair delivery nothing", async () => {
    const { ports, deps } = setup(null);
    const store = new FakeEndpointHealthStore(HEALTHY);
    const loads: string[][] = [];
    const load = store.load.bind(store);
    store.load = async (urls) => {
      loads.push([...urls]);
      return load(urls);
    };
    const { fair } = fairLanesOver(store, { now: NOW });
    expect(await deliverOne({ ...deps, lanes: fair }, jobFor(subscriptionOf()))).toBe("dropped_deleted");
    expect(loads).toEqual([]);
    expect(ports.requests).toEqual([]);
  });
});
