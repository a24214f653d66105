import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  type DeliveryStep,
  decideDeliveryStep,
  type StepInput,
} from "#shared/domain/delivery/delivery-step.ts";
import { decideLane, type EndpointHealth, HEALTHY } from "#shared/domain/delivery/endpoint-health.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import type { DeliveryState } from "#shared/domain/ports/deliveries.ts";
import { newSubscription, type SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";
import { skipCheck } from "#shared/services/delivery/deliver.ts";
import { FakeEndpointHealthStore, fairLanesOver, TEST_FAIRNESS_POLICY } from "../support/fairness.ts";

/**
 * The delivery state machine of docs/delivery.md, edge by edge. The diagram and the receive table are
 * read from the document: every edge (each ` · `-separated alternative of its label) must have a row
 * here and every row an edge, so the document and the code cannot drift apart unnoticed. A row checks
 * the pure function that takes the edge (decideDeliveryStep after an attempt, skipCheck on a receive,
 * decideLane or the lane gate for fairness); the few edges no pure function takes (the router
 * enqueueing, an API retry, SQS's backstop) name the test that covers them.
 */

const REPO = path.resolve(import.meta.dirname, "../..");
const DOC = readFileSync(path.join(REPO, "docs/delivery.md"), "utf8");
const SECTION = DOC.slice(
  DOC.indexOf("## The delivery state machine"),
  DOC.indexOf("### Waits out of flight"),
);

function documentedEdges(): string[] {
  const diagram = /```mermaid\n([\s\S]*?)```/.exec(SECTION)?.[1] ?? "";
  return diagram.split("\n").flatMap((line) => {
    const edge = /^\s*(\S+) --> (\S+?)(?::\s*(.*))?$/.exec(line);
    if (edge === null) return [];
    const [, from, to, label] = edge;
    return label === undefined
      ? [`${from} --> ${to}`]
      : label.split(" · ").map((alt) => `${from} --> ${to}: ${alt}`);
  });
}

function documentedReceiveRows(): string[] {
  const table = SECTION.slice(SECTION.indexOf("| on a receive, the record says |"));
  return table
    .split("\n")
    .slice(2)
    .filter((line) => line.startsWith("|"))
    .map((line) => line.split("|")[1]?.trim() ?? "");
}

// --- Fixtures ---------------------------------------------------------------------------------------

const NOW = new Date("2026-12-08T00:00:00.000Z");
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000).toISOString();
/** Three retries: attempts 1–4, the fourth the last. */
const SCHEDULE = [1, 2, 4];

function job(fields: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    delivery_id: "dlv-1",
    customer_id: "c-1",
    subscription_id: "s-1",
    event_id: "ev-1",
    event_type: "call_hangup",
    webhook_id: "msg_1",
    payload: "{}",
    ...fields,
  } as DeliveryJob;
}

const enabled = newSubscription({ customer_id: "c-1", url: "https://hooks.example/x" }, NOW);
const disabled: SubscriptionWithSecrets = { ...enabled, status: "disabled", disabled_reason: "failing" };

function record(fields: Partial<DeliveryState> = {}): DeliveryState {
  return {
    event_id: "ev-1",
    status: "failed",
    dead_reason: null,
    succeeded_at: null,
    next_attempt_at: null,
    chain_attempts: 2,
    live_job: "w-live",
    prev_job: null,
    dead_lettered_at: null,
    held_ms: 0,
    ...fields,
  };
}

/** The state a delivery is in after a step, in the diagram's words. */
function stateAfter(step: DeliveryStep): string {
  return step.status === "failed" ? "waiting" : step.status;
}

type From = "queued" | "waiting" | "pending";

/** The decision after an attempt from `from` (queued: attempt 1; waiting: attempt 3; pending: attempt 1 of a new chain). */
function after(from: From, statusCode: number | "timeout", fields: Partial<StepInput> = {}): DeliveryStep {
  return decideDeliveryStep({
    attempt: from === "waiting" ? 3 : 1,
    outcome: statusCode === "timeout" ? { error: "timeout" } : { statusCode, retryAfter: null },
    schedule: SCHEDULE,
    jitter: 0,
    now: NOW,
    failingSince: null,
    autoDisableAfterSeconds: 5 * 86_400,
    ...fields,
  });
}

function expectSucceeded(from: From) {
  const step = after(from, 200);
  expect(stateAfter(step)).toBe("succeeded");
  expect(step.queue).toEqual({ kind: "delete" });
}

function expectRetried(from: From) {
  for (const failure of [500, 429, 302, "timeout"] as const) {
    const step = after(from, failure);
    expect(stateAfter(step)).toBe("waiting");
    expect(step.queue.kind).toBe("retry");
    expect(step.nextAttemptAt).not.toBeNull();
  }
}

function expectExhausted(step: DeliveryStep) {
  expect(stateAfter(step)).toBe("dead");
  expect(step.deadReason).toBe("attempts_exhausted");
  expect(step.queue).toEqual({ kind: "dead_letter", reason: "attempts_exhausted" });
}

function expectGone(from: From) {
  const step = after(from, 410);
  expect(stateAfter(step)).toBe("dead");
  expect(step.deadReason).toBe("endpoint_gone");
  expect(step.subscription).toEqual({ kind: "disable", reason: "endpoint_gone" });
  expect(step.queue).toEqual({ kind: "delete" });
}

function expectAutoDisabled(from: From) {
  const step = after(from, 500, { failingSince: at(-5 * 86_400) });
  expect(stateAfter(step)).toBe("dead");
  expect(step.deadReason).toBe("subscription_disabled");
  expect(step.subscription).toEqual({ kind: "disable", reason: "failing" });
  // A second short of the window: retried instead.
  expect(after(from, 500, { failingSince: at(-5 * 86_400 + 1) }).queue.kind).toBe("retry");
}

/** The subscription deleted or disabled: the job is dropped and the delivery closed, no request. */
function expectClosedUnsent(state: DeliveryState | undefined) {
  expect(skipCheck(job({ token: "w-live" }), "w-live", null, state, NOW)).toEqual({
    outcome: "dropped_deleted",
    close: "subscription_deleted",
  });
  expect(skipCheck(job({ token: "w-live" }), "w-live", disabled, state, NOW)).toEqual({
    outcome: "dropped_disabled",
    close: "subscription_disabled",
  });
}

const BREAKER_OPEN: EndpointHealth = {
  ...HEALTHY,
  consecutiveTimeouts: 5,
  openUntil: NOW.getTime() + 30_000,
};
const PROBE_HELD: EndpointHealth = {
  ...HEALTHY,
  consecutiveTimeouts: 5,
  openUntil: NOW.getTime() - 1,
  probeUntil: NOW.getTime() + 20_000,
};

function expectDeferredBy(health: EndpointHealth) {
  const decision = decideLane("slow", health, TEST_FAIRNESS_POLICY, NOW.getTime());
  expect(decision.kind).toBe("defer");
}

/** The slow lane's cap: with one attempt in flight to the endpoint, the next one waits unsent. */
async function expectDeferredAtCap() {
  const { fair: lanes } = fairLanesOver(new FakeEndpointHealthStore(HEALTHY), {
    policy: { ...TEST_FAIRNESS_POLICY, endpointConcurrency: 1 },
    now: NOW,
  });
  const gate = await lanes.forBatch([enabled.url]);
  const item = { lane: "slow" as const, job: job(), liveJob: "w-live", url: enabled.url };
  let finish = () => {};
  const first = gate.dial(
    item,
    () =>
      new Promise<{ result: never }>((resolve) => {
        finish = () => resolve({ result: { kind: "response", statusCode: 200, latencyMs: 1 } as never });
      }),
  );
  const sent: number[] = [];
  const second = await gate.dial(item, async (timeoutMs) => {
    sent.push(timeoutMs);
    return { result: { kind: "response", statusCode: 200, latencyMs: 1 } as never };
  });
  expect(second.outcome).toBe("deferred");
  expect(sent).toEqual([]);
  finish();
  await first;
}

/** An edge no pure function takes: the named test covers it. */
function coveredBy(file: string, testName: string) {
  return () => {
    expect(readFileSync(path.join(REPO, file), "utf8")).toContain(`it("${testName}`);
  };
}

// --- Every edge of the diagram ----------------------------------------------------------------------

const EDGES: Record<string, () => void | Promise<void>> = {
  "[*] --> queued: router / test route enqueues the job": coveredBy(
    "test/integration/pipeline.test.ts",
    "fans one event out to the matching subscriptions only",
  ),
  "queued --> succeeded: attempt 2xx": () => expectSucceeded("queued"),
  "queued --> waiting: attempt fails, attempts left (re-sent, delayed)": () => expectRetried("queued"),
  "queued --> waiting: breaker open": () => expectDeferredBy(BREAKER_OPEN),
  "queued --> waiting: probe claimed": () => expectDeferredBy(PROBE_HELD),
  "queued --> waiting: endpoint at its cap (deferred, no attempt)": expectDeferredAtCap,
  "queued --> dead: 410 (endpoint_gone)": () => expectGone("queued"),
  "queued --> dead: subscription disabled/deleted (no attempt)": () => expectClosedUnsent(undefined),
  "queued --> dead: last attempt fails (attempts_exhausted)": () =>
    expectExhausted(after("queued", 500, { schedule: [] })),
  "waiting --> waiting: wakes > 900 s before next_attempt_at → re-sent as it is, no write, no attempt (a middle hop)":
    () => {
      const state = record({ next_attempt_at: at(2000) });
      expect(skipCheck(job({ token: "w-live" }), "w-live", enabled, state, NOW)).toEqual({
        outcome: "slept",
        dueAt: new Date(at(2000)),
        sameJob: true,
      });
    },
  "waiting --> waiting: wakes ≤ 900 s before next_attempt_at → re-sent under a new token named on the head (the last hop)":
    () => {
      const state = record({ next_attempt_at: at(900) });
      expect(skipCheck(job({ token: "w-live" }), "w-live", enabled, state, NOW)).toEqual({
        outcome: "slept",
        dueAt: new Date(at(900)),
        sameJob: false,
      });
    },
  "waiting --> waiting: deferred again (breaker, probe, cap), no attempt": async () => {
    expectDeferredBy(BREAKER_OPEN);
    expectDeferredBy(PROBE_HELD);
    await expectDeferredAtCap();
  },
  "waiting --> succeeded: attempt 2xx": () => expectSucceeded("waiting"),
  "waiting --> waiting: attempt fails, attempts left": () => expectRetried("waiting"),
  "waiting --> dead: last attempt fails (attempts_exhausted)": () => {
    expectExhausted(after("waiting", 500, { attempt: 4 }));
    expectExhausted(after("waiting", "timeout", { attempt: 4 }));
  },
  "waiting --> dead: 410": () => expectGone("waiting"),
  "waiting --> dead: auto-disable": () => expectAutoDisabled("waiting"),
  "waiting --> dead: subscription disabled/deleted": () =>
    expectClosedUnsent(record({ live_job: "w-live", next_attempt_at: at(0) })),
  "waiting --> dead: SQS's backstop moved it after maxReceiveCount receives that failed (reconciled: internal)":
    coveredBy(
      "test/integration/delivery-batch.test.ts",
      "reconciles a job the queue's backstop moved to the backstop queue",
    ),
  "dead --> pending: manual retry / recover (new live job; the old job is dropped when it wakes)": () => {
    coveredBy(
      "test/integration/api-deliveries.test.ts",
      "re-sends a dead delivery with the same webhook-id",
    )();
    // The old job, waking after the retry named a new live job, drops itself.
    const retried = record({ status: "pending", live_job: "w-retry", dead_reason: null });
    expect(skipCheck(job({ token: "w-old" }), "w-old", enabled, retried, NOW)).toEqual({ outcome: "stale" });
  },
  "waiting --> pending: manual retry / recover (replaces the scheduled retry)": coveredBy(
    "test/integration/single-chain.test.ts",
    "a manual retry replaces the scheduled retry",
  ),
  "succeeded --> pending: manual retry": () => {
    coveredBy(
      "test/integration/api-deliveries.test.ts",
      "re-sends a dead delivery with the same webhook-id, and a succeeded one too",
    )();
    // A manual retry's job asks for a resend after the success: it is attempted, not skipped.
    const succeeded = record({ status: "succeeded", succeeded_at: at(-60), live_job: "w-retry" });
    expect(
      skipCheck(job({ token: "w-retry", redeliver_after: at(-1) }), "w-retry", enabled, succeeded, NOW),
    ).toBeNull();
  },
  "pending --> succeeded: attempt 2xx": () => expectSucceeded("pending"),
  "pending --> waiting: attempt fails, attempts left": () => expectRetried("pending"),
  "pending --> waiting: deferred (breaker, probe, cap), no attempt": async () => {
    expectDeferredBy(BREAKER_OPEN);
    await expectDeferredAtCap();
  },
  "pending --> dead: as from waiting": () => {
    expectExhausted(after("pending", 500, { attempt: 4 }));
    expectGone("pending");
    expectAutoDisabled("pending");
    expectClosedUnsent(record({ status: "pending", next_attempt_at: null }));
  },
  "succeeded --> [*]": () => {
    const state = record({ status: "succeeded", succeeded_at: at(-60), live_job: "w-live" });
    expect(skipCheck(job({ token: "w-live" }), "w-live", enabled, state, NOW)).toEqual({
      outcome: "skipped_already_succeeded",
    });
  },
  "dead --> [*]: job on the dead-letter queue (attempts_exhausted, internal) or deleted": () => {
    expectExhausted(after("waiting", 500, { attempt: 4 }));
    const dead = { status: "dead" as const, dead_reason: "attempts_exhausted" as const };
    expect(skipCheck(job({ token: "w-live" }), "w-live", enabled, record(dead), NOW)).toEqual({
      outcome: "dead_letter_resent",
    });
    expect(
      skipCheck(
        job({ token: "w-live" }),
        "w-live",
        enabled,
        record({ ...dead, dead_lettered_at: at(-1) }),
        NOW,
      ),
    ).toEqual({ outcome: "dropped_dead" });
    expect(
      skipCheck(
        job({ token: "w-live" }),
        "w-live",
        enabled,
        record({ status: "dead", dead_reason: "endpoint_gone" }),
        NOW,
      ),
    ).toEqual({ outcome: "dropped_dead" });
  },
};

describe("the delivery state machine of docs/delivery.md", () => {
  it("has a row for every edge of the diagram, and an edge for every row", () => {
    const documented = documentedEdges();
    expect(documented.length).toBeGreaterThan(20);
    expect([...documented].sort()).toEqual(Object.keys(EDGES).sort());
  });

  it.each(Object.entries(EDGES))("%s", async (_edge, check) => {
    await check();
  });
});

// --- skipCheck: every row of the receive table ------------------------------------------------------

type SkipCase = {
  readonly job: DeliveryJob;
  readonly liveJob: string;
  readonly subscription: SubscriptionWithSecrets | null;
  readonly record: DeliveryState | undefined;
  readonly options?: Parameters<typeof skipCheck>[5];
  readonly expected: ReturnType<typeof skipCheck>;
};

const SETTLE_MS = 40_000;
const self = (fields: Partial<DeliveryJob> = {}) => job({ token: "w-self", ...fields });

const RECEIVE_ROWS: Record<string, readonly SkipCase[]> = {
  "another job is live, handed over by this job (`prev_job`), and the delivery waits: its message may never have been sent":
    [
      // Not yet due: the live job is re-sent under a new identity, due when the record says.
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ prev_job: "w-self", next_attempt_at: at(30) }),
        options: { settleMs: SETTLE_MS },
        expected: { outcome: "resumed", successor: "w-live", dueAt: new Date(at(30)) },
      },
      // Long past due (beyond the settle time): re-sent too.
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ prev_job: "w-self", next_attempt_at: at(-41) }),
        options: { settleMs: SETTLE_MS },
        expected: { outcome: "resumed", successor: "w-live", dueAt: new Date(at(-41)) },
      },
      // Due and maybe under way: kept until the hand-off settles.
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ prev_job: "w-self", next_attempt_at: at(-10) }),
        options: { settleMs: SETTLE_MS },
        expected: { outcome: "unsettled", settledAt: new Date(at(30)) },
      },
      // The live job is in the same batch: it is on its queue, so this copy is simply stale.
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ prev_job: "w-self", next_attempt_at: at(30) }),
        options: { settleMs: SETTLE_MS, liveJobInBatch: true },
        expected: { outcome: "stale" },
      },
      // The delivery no longer waits (it succeeded): nothing to resume.
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ prev_job: "w-self", status: "succeeded", succeeded_at: at(-5) }),
        expected: { outcome: "stale" },
      },
    ],
  "another job is live (`live_job` ≠ this job's token or `msg:<message id>`)": [
    {
      job: self(),
      liveJob: "w-self",
      subscription: enabled,
      record: record(),
      expected: { outcome: "stale" },
    },
    {
      job: job(),
      liveJob: "msg:m-1",
      subscription: enabled,
      record: record({ live_job: "msg:m-2" }),
      expected: { outcome: "stale" },
    },
  ],
  "`succeeded` (and the job is not a manual retry asking for a resend)": [
    {
      job: self(),
      liveJob: "w-self",
      subscription: enabled,
      record: record({ status: "succeeded", succeeded_at: at(-60), live_job: "w-self" }),
      expected: { outcome: "skipped_already_succeeded" },
    },
    // A manual retry from before the success does not ask for a resend either.
    {
      job: self({ redeliver_after: at(-120) }),
      liveJob: "w-self",
      subscription: enabled,
      record: record({ status: "succeeded", succeeded_at: at(-60), live_job: "w-self" }),
      expected: { outcome: "skipped_already_succeeded" },
    },
  ],
  "`dead`, not yet on the dead-letter queue (a crash after marking it)": [
    {
      job: self(),
      liveJob: "w-self",
      subscription: enabled,
      record: record({ status: "dead", dead_reason: "attempts_exhausted", live_job: "w-self" }),
      expected: { outcome: "dead_letter_resent" },
    },
  ],
  "`dead` otherwise": [
    {
      job: self(),
      liveJob: "w-self",
      subscription: enabled,
      record: record({
        status: "dead",
        dead_reason: "attempts_exhausted",
        dead_lettered_at: at(-1),
        live_job: "w-self",
      }),
      expected: { outcome: "dropped_dead" },
    },
    {
      job: self(),
      liveJob: "w-self",
      subscription: enabled,
      record: record({ status: "dead", dead_reason: "subscription_disabled", live_job: "w-self" }),
      expected: { outcome: "dropped_dead" },
    },
  ],
  "subscription deleted / disabled": [
    {
      job: self(),
      liveJob: "w-self",
      subscription: null,
      record: undefined,
      expected: { outcome: "dropped_deleted", close: "subscription_deleted" },
    },
    {
      job: self(),
      liveJob: "w-self",
      subscription: disabled,
      record: record({ live_job: "w-self" }),
      expected: { outcome: "dropped_disabled", close: "subscription_disabled" },
    },
  ],
  "`failed` or `pending` and `next_attempt_at` more than 900 s ahead, the job carrying the token the head names (a middle hop of a long wait)":
    [
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ live_job: "w-self", next_attempt_at: at(901) }),
        expected: { outcome: "slept", dueAt: new Date(at(901)), sameJob: true },
      },
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ status: "pending", live_job: "w-self", next_attempt_at: at(3600) }),
        expected: { outcome: "slept", dueAt: new Date(at(3600)), sameJob: true },
      },
    ],
  "`failed` or `pending` and `next_attempt_at` more than 1 s ahead otherwise (the last hop of a long wait, or a message of the old design waking from its long visibility)":
    [
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ live_job: "w-self", next_attempt_at: at(900) }),
        expected: { outcome: "slept", dueAt: new Date(at(900)), sameJob: false },
      },
      // A job of before tokens (`msg:<id>`) cannot be re-sent as it is, however long the wait.
      {
        job: job(),
        liveJob: "msg:m-1",
        subscription: enabled,
        record: record({ live_job: "msg:m-1", next_attempt_at: at(5000) }),
        expected: { outcome: "slept", dueAt: new Date(at(5000)), sameJob: false },
      },
      {
        job: self(),
        liveJob: "w-self",
        subscription: enabled,
        record: record({ status: "pending", live_job: "w-self", next_attempt_at: at(2) }),
        expected: { outcome: "slept", dueAt: new Date(at(2)), sameJob: false },
      },
    ],
  // Not skipCheck's to decide: it lets the job through and the lane gate defers it (lane-gate.test.ts).
  "fair delivery: breaker open, probe claimed by another instance, endpoint at its cap": [
    {
      job: self(),
      liveJob: "w-self",
      subscription: enabled,
      record: record({ live_job: "w-self", next_attempt_at: at(0) }),
      expected: null,
    },
  ],
  otherwise: [
    // No record yet: the first attempt.
    { job: self(), liveJob: "w-self", subscription: enabled, record: undefined, expected: null },
    // Due, within the early-wake tolerance of a second.
    {
      job: self(),
      liveJob: "w-self",
      subscription: enabled,
      record: record({ live_job: "w-self", next_attempt_at: at(1) }),
      expected: null,
    },
    // A manual retry asking for a resend after the success.
    {
      job: self({ redeliver_after: at(-10) }),
      liveJob: "w-self",
      subscription: enabled,
      record: record({ status: "succeeded", succeeded_at: at(-60), live_job: "w-self" }),
      expected: null,
    },
  ],
};

describe("skipCheck: the receive table of docs/delivery.md", () => {
  it("has cases for every row of the table, and a row for every case", () => {
    expect(Object.keys(RECEIVE_ROWS)).toEqual(documentedReceiveRows());
  });

  it.each(
    Object.entries(RECEIVE_ROWS).flatMap(([row, cases]) =>
      cases.map((c, i) => [`${row} (${i + 1})`, c] as const),
    ),
  )("%s", (_row, c) => {
    expect(skipCheck(c.job, c.liveJob, c.subscription, c.record, NOW, c.options)).toEqual(c.expected);
  });
});
