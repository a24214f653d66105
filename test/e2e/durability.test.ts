import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  callApi,
  killAllStacks,
  mintKey,
  putCallHangups,
  type RunningStack,
  startStack,
} from "../support/e2e-stack.ts";
import { startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Durable local queues (docs/local.md, "Persistence"): a `kill -9` of `npm start` loses no job.
 * A delivery waiting for its retry is sent after the restart, at its schedule; an event PutEvents
 * accepted is delivered even when the stack dies before the router ran; a router retry scheduled
 * before the kill happens after the restart, at its schedule.
 */

const dataDir = mkdtempSync(path.join(tmpdir(), "voipbin-webhooks-durable-"));

afterAll(() => {
  killAllStacks();
  rmSync(dataDir, { recursive: true, force: true });
});

async function put(stack: RunningStack, customerId: string, dataId: string): Promise<void> {
  await putMany(stack, customerId, [dataId]);
}

async function putMany(stack: RunningStack, customerId: string, dataIds: readonly string[]): Promise<void> {
  const response = await putCallHangups(stack, customerId, dataIds);
  expect(response.FailedEntryCount).toBe(0);
  expect(response.Entries?.every((e) => e.EventId)).toBe(true);
}

/** The pid of `npm start`'s node process, from the data directory's lock. */
function stackPid(): number {
  return Number(readFileSync(path.join(dataDir, "local-stack.pid"), "utf8"));
}

/** The stack's dynalite child process. */
function dynalitePid(): number {
  const children = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(stackPid())], {
    encoding: "utf8",
  });
  const line = children.split("\n").find((l) => l.includes("dynalite-child"));
  const pid = Number(line?.trim().split(/\s+/)[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no dynalite child among:\n${children}`);
  return pid;
}

/** kill -9 of the whole stack, then waits until its ports are closed and its process is gone. */
async function killHard(stack: RunningStack): Promise<void> {
  const holder = stackPid();
  stack.kill();
  await waitFor(() => portClosed(stack.ports.api), { timeoutMs: 10_000, description: "the stack to die" });
  // The data directory's lock names the dead process until the system has reaped it.
  await waitFor(() => !isRunning(holder), {
    timeoutMs: 10_000,
    description: "the killed process to be gone",
  });
}

function webhookIds(receiver: { requests: readonly { headers: Record<string, string> }[] }): Set<string> {
  return new Set(receiver.requests.map((r) => r.headers["webhook-id"] ?? ""));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function portClosed(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`);
    return false;
  } catch {
    return true;
  }
}

describe("kill -9 of npm start", () => {
  it("loses no job: a retry waiting in the queue is sent after the restart", async () => {
    // The first attempt fails; the retry (8 s later) succeeds.
    const receiver = await startReceiver((_request, n) =>
      n === 1 ? { status: 500, body: "down" } : { status: 200, body: "ok" },
    );
    try {
      const env = { RETRY_SCHEDULE: "8", RETRY_JITTER: "0" };
      const first = await startStack({ dataDir, env });
      const { key, customerId } = await mintKey(first);
      const created = await callApi<{ id: string }>(first, "POST", "/v1/subscriptions", {
        key,
        body: { url: `${receiver.url}/durable`, event_types: ["call_*"] },
      });
      expect(created.status, created.text).toBe(201);
      await put(first, customerId, "durable-1");
      await waitFor(() => receiver.requests.length >= 1, {
        timeoutMs: 15_000,
        description: "the first attempt",
      });

      // Killed once the attempt is recorded and its retry scheduled (a kill during the attempt would
      // make it one of the allowed duplicates: sent again at the restart).
      await waitFor(
        async () => {
          const log = await callApi<{ items: { attempts: unknown[]; next_attempt_at: string | null }[] }>(
            first,
            "GET",
            `/v1/subscriptions/${created.body.id}/deliveries`,
            { key },
          );
          return log.body.items[0]?.attempts.length === 1 && log.body.items[0]?.next_attempt_at !== null;
        },
        { timeoutMs: 15_000, description: "the first attempt recorded with its retry scheduled" },
      );
      await killHard(first);
      expect(receiver.requests).toHaveLength(1);

      const second = await startStack({ dataDir, env, ports: first.ports });
      await waitFor(() => receiver.requests.length >= 2, {
        timeoutMs: 30_000,
        description: "the retry after the restart",
      });
      const [firstAttempt, retry] = receiver.requests;
      // At its schedule (8 s after the first attempt), not earlier.
      expect((retry?.receivedAt ?? 0) - (firstAttempt?.receivedAt ?? 0)).toBeGreaterThanOrEqual(7_000);
      const log = await callApi<{ items: { status: string }[] }>(
        second,
        "GET",
        `/v1/subscriptions/${created.body.id}/deliveries`,
        { key },
      );
      await waitFor(
        async () =>
          (
            await callApi<{ items: { status: string }[] }>(
              second,
              "GET",
              `/v1/subscriptions/${created.body.id}/deliveries`,
              {
                key,
              },
            )
          ).body.items[0]?.status === "succeeded",
        { timeoutMs: 10_000, description: "the delivery to be recorded as succeeded" },
      );
      expect(log.status).toBe(200);
      await second.interrupt();
    } finally {
      await receiver.close();
    }
  });

  it("loses no accepted event: PutEvents answered, the stack killed before the router ran, delivered after the restart", async () => {
    const receiver = await startReceiver();
    try {
      const first = await startStack({ dataDir });
      const { key, customerId } = await mintKey(first);
      const created = await callApi(first, "POST", "/v1/subscriptions", {
        key,
        body: { url: `${receiver.url}/accepted`, event_types: ["call_*"] },
      });
      expect(created.status, created.text).toBe(201);
      // DynamoDB frozen (SIGSTOP): the router cannot route, nor the delivery function deliver, before
      // the kill; the events are only on the router's queue when PutEvents answers.
      const dynalite = dynalitePid();
      process.kill(dynalite, "SIGSTOP");
      const ids = Array.from({ length: 10 }, (_, i) => `accepted-${i}`);
      await putMany(first, customerId, ids);
      await killHard(first);
      expect(receiver.requests).toHaveLength(0);

      const second = await startStack({ dataDir, ports: first.ports });
      await waitFor(() => webhookIds(receiver).size === ids.length, {
        timeoutMs: 30_000,
        description: "every accepted event delivered after the restart",
      });
      const delivered = receiver.requests.map(
        (r) => (JSON.parse(r.body) as { data: { id: string } }).data.id,
      );
      expect(new Set(delivered)).toEqual(new Set(ids));
      await second.interrupt();
    } finally {
      await receiver.close();
    }
  });

  it("keeps an event the router failed on before the kill: it is routed after the restart and delivered", {
    timeout: 120_000,
  }, async () => {
    const receiver = await startReceiver();
    try {
      // Retries 20 s apart (the router queue's visibility timeout): longer than a kill and a restart.
      const env = { ROUTER_RETRY_DELAYS: "20,20" };
      const first = await startStack({ dataDir, env });
      const { key, customerId } = await mintKey(first);
      const created = await callApi(first, "POST", "/v1/subscriptions", {
        key,
        body: { url: `${receiver.url}/router-retry`, event_types: ["call_*"] },
      });
      expect(created.status, created.text).toBe(201);
      // DynamoDB gone: the router's subscription lookup fails, and the event stays on the router queue.
      process.kill(dynalitePid(), "SIGKILL");
      await put(first, customerId, "router-retry-1");
      await waitFor(() => first.output().includes("routing failed for events of a batch"), {
        timeoutMs: 30_000,
        description: "the router's first attempt to fail, leaving the event queued",
      });
      await killHard(first);

      // The restart releases what the dead process held (as the visibility timeout would on AWS).
      const second = await startStack({ dataDir, env, ports: first.ports });
      const [delivery] = await receiver.waitForRequests(1, 60_000);
      expect((JSON.parse(delivery?.body ?? "{}") as { data?: { id?: string } }).data?.id).toBe(
        "router-retry-1",
      );
      await second.interrupt();
    } finally {
      await receiver.close();
    }
  });
});
