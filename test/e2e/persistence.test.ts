import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { READY_LINE } from "../../local/settings.ts";
import {
  callApi,
  freePorts,
  killAllStacks,
  mintKey,
  putCallHangups,
  REPO_ROOT,
  type RunningStack,
  stackEnvironment,
  startStack,
} from "../support/e2e-stack.ts";
import { startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * `npm start` without --in-memory keeps DynamoDB under DATA_DIR: access keys, subscriptions and the
 * delivery log survive a restart (queued jobs too: test/e2e/durability.test.ts).
 */

const dataDir = mkdtempSync(path.join(tmpdir(), "voipbin-webhooks-e2e-"));

afterAll(() => {
  killAllStacks();
  rmSync(dataDir, { recursive: true, force: true });
});

async function deliverOne(stack: RunningStack, customerId: string, dataId: string): Promise<void> {
  const response = await putCallHangups(stack, customerId, [dataId]);
  expect(response.FailedEntryCount).toBe(0);
}

describe("a restart with a data directory", () => {
  it("keeps access keys, subscriptions, secrets and the delivery log; one stack per directory", async () => {
    const receiver = await startReceiver();
    try {
      const first = await startStack({ dataDir });
      const { key, customerId } = await mintKey(first);
      const created = await callApi<{ id: string; secret: string }>(first, "POST", "/v1/subscriptions", {
        key,
        body: { url: `${receiver.url}/kept`, event_types: ["call_*"], description: "survives restarts" },
      });
      expect(created.status, created.text).toBe(201);
      await deliverOne(first, customerId, "before-restart");
      await receiver.waitForRequests(1, 10_000);
      await waitFor(
        async () => {
          const log = await callApi<{ items: { status: string }[] }>(
            first,
            "GET",
            `/v1/subscriptions/${created.body.id}/deliveries`,
            { key },
          );
          return log.body.items[0]?.status === "succeeded";
        },
        { timeoutMs: 10_000, description: "the delivery to be logged" },
      );

      // A second stack on the same directory is refused while the first runs.
      await expect(startStack({ dataDir })).rejects.toThrow(/another local stack \(pid \d+\) is using/);

      const stopped = await first.interrupt();
      expect(first.output()).toContain("Stopped cleanly");
      expect(stopped.ms).toBeLessThan(10_000);

      const second = await startStack({ dataDir });
      expect(second.output()).toMatch(/persisted in /);
      const again = await callApi<{ id: string; url: string; description: string }>(
        second,
        "GET",
        `/v1/subscriptions/${created.body.id}`,
        { key },
      );
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({ url: `${receiver.url}/kept`, description: "survives restarts" });
      const secret = await callApi<{ secret: string }>(
        second,
        "GET",
        `/v1/subscriptions/${created.body.id}/secret`,
        {
          key,
        },
      );
      expect(secret.body.secret).toBe(created.body.secret);
      const log = await callApi<{ items: { status: string }[] }>(
        second,
        "GET",
        `/v1/subscriptions/${created.body.id}/deliveries`,
        { key },
      );
      expect(log.body.items.map((item) => item.status)).toEqual(["succeeded"]);

      // And the kept subscription still receives events.
      await deliverOne(second, customerId, "after-restart");
      const requests = await receiver.waitForRequests(2, 10_000);
      expect(requests.map((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id)).toEqual([
        "before-restart",
        "after-restart",
      ]);
      await second.interrupt();
    } finally {
      await receiver.close();
    }
  });

  it("restarts at once after kill -9 while the killed stack lingers as an unreaped zombie", async () => {
    const zombieDir = mkdtempSync(path.join(tmpdir(), "voipbin-webhooks-zombie-"));
    const ports = await freePorts();
    const log = path.join(zombieDir, "first.log");
    // The stack's parent runs it in the background and then execs sleep, which never waits for
    // children: as under a container init that does not reap, the killed stack stays a zombie.
    const parent = spawn(
      "sh",
      ["-c", `exec node --import tsx local/main.ts >"${log}" 2>&1 & echo $!; exec sleep 600`],
      {
        cwd: REPO_ROOT,
        env: { ...stackEnvironment(ports, { dataDir: zombieDir }), PATH: npmPath() },
        detached: true,
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    try {
      const [firstLine] = (await once(parent.stdout, "data")) as [Buffer];
      const pid = Number.parseInt(firstLine.toString("utf8"), 10);
      await waitFor(() => existsSync(log) && readFileSync(log, "utf8").includes(READY_LINE), {
        timeoutMs: 60_000,
        description: "the first stack to be ready",
      });
      process.kill(pid, "SIGKILL");
      await waitFor(() => /\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")), {
        timeoutMs: 10_000,
        description: "the killed stack to be a zombie",
      });
      const lockHolder = readFileSync(path.join(zombieDir, "local-stack.pid"), "utf8");
      expect(Number.parseInt(lockHolder, 10)).toBe(pid);

      // Same directory, same ports: the zombie holds neither.
      const second = await startStack({ dataDir: zombieDir, ports });
      expect(readFileSync(path.join(zombieDir, "local-stack.pid"), "utf8")).not.toBe(lockHolder);
      expect((await second.signalNpm("SIGTERM")).code).toBe(0);
    } finally {
      if (parent.pid !== undefined) process.kill(-parent.pid, "SIGKILL");
      rmSync(zombieDir, { recursive: true, force: true });
    }
  });
});

/** PATH with the repository's node_modules/.bin first, as npm runs scripts (node is Node 24 there). */
function npmPath(): string {
  return `${path.join(REPO_ROOT, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`;
}
