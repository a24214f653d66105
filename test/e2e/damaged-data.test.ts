import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  callApi,
  killAllStacks,
  mintKey,
  type RunningStack,
  runNpmScript,
  stackEnvironment,
  startStack,
} from "../support/e2e-stack.ts";

/**
 * A damaged file of the persisted table stops `npm start` with a message naming the file and what to
 * do, instead of a stack that starts "ready" with items silently gone or deleted ones back
 * (local/table-files.ts). Damaged the way a user's disk, a bad copy or a stray editor does it.
 */

const dirs: string[] = [];
afterAll(() => {
  killAllStacks();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A data directory with keys and a deleted subscription in it, and the stack that wrote it. */
async function writtenDataDir(): Promise<{ dataDir: string; stack: RunningStack }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "voipbin-damaged-"));
  dirs.push(dataDir);
  const stack = await startStack({ dataDir });
  const { key } = await mintKey(stack);
  for (let i = 0; i < 3; i++) await mintKey(stack);
  const created = await callApi<{ id: string }>(stack, "POST", "/v1/subscriptions", {
    key,
    body: { url: "http://127.0.0.1:9/hook", event_types: ["*"] },
  });
  expect(created.status, created.text).toBe(201);
  const deleted = await callApi(stack, "DELETE", `/v1/subscriptions/${created.body.id}`, { key });
  expect(deleted.status).toBe(204);
  return { dataDir, stack };
}

/** The table's write-ahead log (LevelDB's `NNNNNN.log`) holding what the stack wrote. */
function tableLog(dataDir: string): string {
  const dir = path.join(dataDir, "dynamodb");
  const logs = readdirSync(dir)
    .filter((name) => name.endsWith(".log"))
    .map((name) => path.join(dir, name))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  const [largest] = logs;
  if (largest === undefined || statSync(largest).size < 1000) throw new Error(`no written log in ${dir}`);
  return largest;
}

function flipBytes(file: string): void {
  const content = readFileSync(file);
  const at = Math.floor(content.length / 2);
  for (let i = at; i < at + 4; i++) content[i] = (content[i] ?? 0) ^ 0x5a;
  writeFileSync(file, content);
}

async function startRefused(stack: RunningStack, dataDir: string, damagedFile: string): Promise<void> {
  const result = await runNpmScript("start", [], stackEnvironment(stack.ports, { dataDir }));
  expect(result.code, result.stdout + result.stderr).toBe(1);
  expect(result.stdout).not.toContain("is ready");
  expect(result.stderr).toContain("The local stack did not start: the local table's files in");
  expect(result.stderr).toContain(damagedFile);
  expect(result.stderr).toMatch(/Restore that directory from a backup, or delete it/);
}

describe("a damaged table file", () => {
  it("stops the start after a clean stop when bytes of the log are flipped, naming the file", async () => {
    const { dataDir, stack } = await writtenDataDir();
    expect((await stack.signalNpm("SIGTERM")).code).toBe(0);
    const log = tableLog(dataDir);
    flipBytes(log);
    await startRefused(stack, dataDir, log);
    // Refused, not repaired: the file is as the user left it, and a second start refuses again.
    await startRefused(stack, dataDir, log);
  });

  it("stops the start after a clean stop when the log is truncated (a deleted subscription would come back)", async () => {
    const { dataDir, stack } = await writtenDataDir();
    expect((await stack.signalNpm("SIGTERM")).code).toBe(0);
    const log = tableLog(dataDir);
    truncateSync(log, statSync(log).size - 200);
    await startRefused(stack, dataDir, log);
  });

  it("stops the start after kill -9 when bytes of the log are flipped (each record's CRC-32C)", async () => {
    const { dataDir, stack } = await writtenDataDir();
    stack.kill();
    const log = tableLog(dataDir);
    flipBytes(log);
    await startRefused(stack, dataDir, log);
  });

  it("starts as usual after a clean stop and after kill -9 on undamaged files", async () => {
    const { dataDir, stack } = await writtenDataDir();
    stack.kill();
    const second = await startStack({ dataDir, ports: stack.ports });
    expect((await second.signalNpm("SIGTERM")).code).toBe(0);
    const third = await startStack({ dataDir, ports: stack.ports });
    expect((await third.signalNpm("SIGTERM")).code).toBe(0);
  });
});
