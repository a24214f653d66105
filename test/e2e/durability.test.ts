import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { afterAll, describe, expect, it } from "vitest";
import { sampleEntry } from "../../local/samples.ts";
import {
  callApi,
  eventBridgeClient,
  killAllStacks,
  mintKey,
  type RunningStack,
  startStack,
} from "../support/e2e-stack.ts";
import { startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Durable local queues (docs/local.md, "Persistence"): a `kill -9` of `npm start` loses no job.
 * A delivery waiting for its retry is sent after the restart, at its schedule; a dead letter is
 * still on the dead-letter queue.
 */

const dataDir = mkdtempSync(path.join(tmpdir(), "voipbin-webhooks-durable-"));

afterAll(() => {
  killAllStacks();
  rmSync(dataDir, { recursive: true, force: true });
});

async function put(stack: RunningStack, customerId: string, dataId: string): Promise<void> {
  const bus = eventBridgeClient(stack);
  try {
    const entry = sampleEntry("call_hangup", { customerId });
    const detail = JSON.parse(entry.Detail) as { customer_id: string; data: Record<string, unknown> };
    const response = await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            ...entry,
            EventBusName: "voipbin-events",
            Detail: JSON.stringify({ ...detail, data: { ...detail.data, id: dataId } }),
          },
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(0);
  } finally {
    bus.destroy();
  }
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
      first.kill();
      await waitFor(() => portClosed(first.ports.api), {
        timeoutMs: 10_000,
        description: "the stack to die",
      });
      // The data directory's lock names the dead process until the system has reaped it.
      const holder = Number(readFileSync(path.join(dataDir, "local-stack.pid"), "utf8"));
      await waitFor(() => !isRunning(holder), {
        timeoutMs: 10_000,
        description: "the killed process to be gone",
      });
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
});
