import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callApi, killAllStacks, type RunningStack, runNpmScript, startStack } from "../support/e2e-stack.ts";

/**
 * The operator CLI (PRODUCT §5) against `npm start`, as an operator runs it in a second terminal:
 * `KEY=$(npm run --silent keys -- create --customer …)`, then the key works on the API until it is
 * revoked.
 */

let stack: RunningStack;

beforeAll(async () => {
  stack = await startStack({ inMemory: true });
});

afterAll(async () => {
  await stack?.interrupt().catch(() => stack.kill());
  killAllStacks();
});

const keys = (...args: string[]) => runNpmScript("keys", args, stack.cliEnv);

describe("npm run keys", () => {
  it("creates a key printed alone on stdout, lists it without the key, and revoking it stops it at once", async () => {
    const customer = randomUUID();
    const created = await keys(
      "create",
      "--customer",
      customer,
      "--name",
      "ops laptop",
      "--expires-in",
      "30",
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^vb_[A-Za-z0-9_-]{32}\n$/);
    const key = created.stdout.trim();
    expect(created.stderr).not.toContain(key);

    const before = await callApi(stack, "GET", "/v1/subscriptions", { key });
    expect(before.status, before.text).toBe(200);

    const listed = await keys("list", "--customer", customer);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain("ops laptop");
    expect(listed.stdout).not.toContain(key);
    const row = listed.stdout.split("\n").find((line) => line.includes("ops laptop")) ?? "";
    const keyId = row.split(/\s+/)[0] ?? "";
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(row).toMatch(/\bactive$/);

    const revoked = await keys("revoke", keyId);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await callApi<{ error: { code: string } }>(stack, "GET", "/v1/subscriptions", { key });
    expect([after.status, after.body.error.code]).toEqual([401, "INVALID_CREDENTIALS"]);
    const relisted = await keys("list", "--customer", customer);
    expect(relisted.stdout.split("\n").find((line) => line.startsWith(keyId))).toMatch(/\brevoked$/);
  });

  it("fails with a message and nothing on stdout on bad input or when the stack is not there", async () => {
    const [bad, nowhere] = await Promise.all([
      keys("create", "--customer", "not-a-uuid"),
      runNpmScript("keys", ["create", "--customer", randomUUID()], {
        DYNAMODB_ENDPOINT: "http://127.0.0.1:9",
      }),
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/customer/);
    expect(nowhere.code).not.toBe(0);
    expect(nowhere.stdout).toBe("");
  });
});
