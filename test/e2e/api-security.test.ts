import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callApi, killAllStacks, mintKey, type RunningStack, startStack } from "../support/e2e-stack.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

/**
 * PRODUCT §5–§6 over HTTP against `npm start`: tenant isolation on every route, and the SSRF rules at
 * create and update time — loopback allowed by the local stack's default ALLOWED_CIDRS, everything
 * else blocked; and, on a stack with a deployment's empty ALLOWED_CIDRS, loopback too, including a
 * hostname that resolves to it.
 */

let stack: RunningStack;
let strict: RunningStack;
let open: RunningStack;
let receiver: Receiver;

beforeAll(async () => {
  [stack, strict, open, receiver] = await Promise.all([
    startStack({ inMemory: true }),
    startStack({ inMemory: true, env: { ALLOWED_CIDRS: "" } }),
    startStack({ inMemory: true, env: { ALLOWED_CIDRS: "0.0.0.0/0,::/0" } }),
    startReceiver(),
  ]);
});

afterAll(async () => {
  await receiver?.close();
  await Promise.all([stack, strict, open].map((one) => one?.interrupt().catch(() => one.kill())));
  killAllStacks();
});

describe("the stack's own ports", () => {
  it("are never a webhook target, whatever ALLOWED_CIDRS allows: refused at create and update", async () => {
    const { key } = await mintKey(open);
    const fine = await callApi<{ id: string }>(open, "POST", "/v1/subscriptions", {
      key,
      body: { url: `${receiver.url}/fine`, event_types: ["*"] },
    });
    expect(fine.status, fine.text).toBe(201);
    const ports = Object.values(open.ports);
    for (const port of ports) {
      for (const host of ["127.0.0.1", "localhost", "0.0.0.0", "[::1]", "127.0.0.2", "[::ffff:127.0.0.1]"]) {
        const url = `http://${host}:${port}/_local-sqs/queues/voipbin-webhooks-delivery-dlq`;
        const created = await callApi<{
          error: { code: string; details: { path: string; message: string }[] };
        }>(open, "POST", "/v1/subscriptions", { key, body: { url, event_types: ["*"] } });
        expect(created.status, `${url}: ${created.text}`).toBe(400);
        expect(created.body.error.details).toEqual([
          { path: "url", message: expect.stringContaining("is one of this system's own service endpoints") },
        ]);
        const patched = await callApi(open, "PATCH", `/v1/subscriptions/${fine.body.id}`, {
          key,
          body: { url },
        });
        expect(patched.status, `PATCH ${url}`).toBe(400);
      }
    }
  });
});

describe("tenant isolation", () => {
  it("another customer's key gets 404 on every route that names a subscription or delivery, and changes nothing", async () => {
    const owner = await mintKey(stack);
    const intruder = await mintKey(stack);
    const created = await callApi<{ id: string; secret: string }>(stack, "POST", "/v1/subscriptions", {
      key: owner.key,
      body: { url: `${receiver.url}/owner`, event_types: ["*"], description: "the owner's" },
    });
    expect(created.status, created.text).toBe(201);
    const subscriptionId = created.body.id;
    const test = await callApi<{ delivery_id: string }>(
      stack,
      "POST",
      `/v1/subscriptions/${subscriptionId}/test`,
      {
        key: owner.key,
      },
    );
    expect(test.status, test.text).toBe(202);
    const deliveryId = test.body.delivery_id;
    await waitFor(
      async () =>
        (await callApi(stack, "GET", `/v1/deliveries/${deliveryId}`, { key: owner.key })).status === 200,
      { timeoutMs: 10_000, description: "the test delivery to be recorded" },
    );

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const routes: [string, string, unknown?][] = [
      ["GET", `/v1/subscriptions/${subscriptionId}`],
      ["PATCH", `/v1/subscriptions/${subscriptionId}`, { description: "mine now" }],
      ["DELETE", `/v1/subscriptions/${subscriptionId}`],
      ["GET", `/v1/subscriptions/${subscriptionId}/secret`],
      ["POST", `/v1/subscriptions/${subscriptionId}/secret/rotate`],
      ["POST", `/v1/subscriptions/${subscriptionId}/test`],
      ["GET", `/v1/subscriptions/${subscriptionId}/deliveries`],
      ["POST", `/v1/subscriptions/${subscriptionId}/recover`, { since }],
      ["GET", `/v1/deliveries/${deliveryId}`],
      ["POST", `/v1/deliveries/${deliveryId}/retry`],
    ];
    for (const [method, path, body] of routes) {
      const answer = await callApi<{ error: { code: string } }>(stack, method, path, {
        key: intruder.key,
        body,
      });
      expect(answer.status, `${method} ${path}: ${answer.text}`).toBe(404);
      expect(answer.body.error.code).toBe("NOT_FOUND");
      // Indistinguishable from an id that exists for nobody.
      const nobody = await callApi(stack, method, path.replace(/[0-9a-f-]{36}/, randomUUID()), {
        key: intruder.key,
        body,
      });
      expect(nobody.status).toBe(404);
      expect(nobody.text).toBe(answer.text);
    }
    const list = await callApi<{ items: { id: string }[] }>(stack, "GET", "/v1/subscriptions", {
      key: intruder.key,
    });
    expect(list.body.items).toEqual([]);

    // The owner's subscription is untouched: same secret, same description, one delivery.
    const mine = await callApi<{ description: string }>(stack, "GET", `/v1/subscriptions/${subscriptionId}`, {
      key: owner.key,
    });
    expect(mine.body.description).toBe("the owner's");
    const secret = await callApi<{ secret: string }>(
      stack,
      "GET",
      `/v1/subscriptions/${subscriptionId}/secret`,
      {
        key: owner.key,
      },
    );
    expect(secret.body.secret).toBe(created.body.secret);
    const deliveries = await callApi<{ items: unknown[] }>(
      stack,
      "GET",
      `/v1/subscriptions/${subscriptionId}/deliveries`,
      { key: owner.key },
    );
    expect(deliveries.body.items).toHaveLength(1);
  });

  it("refuses missing, malformed and unknown credentials with the two 401 codes, header or ?accesskey=", async () => {
    const { key } = await mintKey(stack);
    const missing = await callApi<{ error: { code: string } }>(stack, "GET", "/v1/subscriptions");
    expect([missing.status, missing.body.error.code]).toEqual([401, "AUTHENTICATION_REQUIRED"]);
    const unknown = await callApi<{ error: { code: string } }>(stack, "GET", "/v1/subscriptions", {
      key: `vb_${"A".repeat(32)}`,
    });
    expect([unknown.status, unknown.body.error.code]).toEqual([401, "INVALID_CREDENTIALS"]);
    const byQuery = await callApi(stack, "GET", `/v1/subscriptions?accesskey=${key}`);
    expect(byQuery.status).toBe(200);
    // The key never comes back in an answer.
    expect(byQuery.text).not.toContain(key);
  });
});

describe("SSRF rules at create and update time", () => {
  const blocked = [
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[::ffff:a00:1]/hook",
    "http://100.64.0.1/hook",
    "http://192.168.1.10/hook",
    "http://0.0.0.0/hook",
    "http://[fd00::1]/hook",
    "http://[64:ff9b::a00:1]/hook",
    "http://0x0a000001/hook",
  ];

  it("rejects private, link-local, CGNAT, mapped and NAT64 addresses and allows loopback (ALLOWED_CIDRS)", async () => {
    const { key } = await mintKey(stack);
    for (const url of blocked) {
      const answer = await callApi<{ error: { code: string; details: { path: string }[] } }>(
        stack,
        "POST",
        "/v1/subscriptions",
        { key, body: { url, event_types: ["*"] } },
      );
      expect(answer.status, `${url}: ${answer.text}`).toBe(400);
      expect(answer.body.error.code).toBe("VALIDATION_FAILED");
      expect(answer.body.error.details.map((detail) => detail.path)).toContain("url");
    }
    const userInfo = await callApi(stack, "POST", "/v1/subscriptions", {
      key,
      body: { url: `http://user:pass@127.0.0.1:${receiver.port}/`, event_types: ["*"] },
    });
    expect(userInfo.status).toBe(400);

    const allowed = await callApi<{ id: string; url: string }>(stack, "POST", "/v1/subscriptions", {
      key,
      body: { url: `${receiver.url}/loopback`, event_types: ["*"] },
    });
    expect(allowed.status, allowed.text).toBe(201);
    const byName = await callApi(stack, "POST", "/v1/subscriptions", {
      key,
      body: { url: `http://localhost:${receiver.port}/by-name`, event_types: ["*"] },
    });
    expect(byName.status, byName.text).toBe(201);

    for (const url of blocked) {
      const answer = await callApi(stack, "PATCH", `/v1/subscriptions/${allowed.body.id}`, {
        key,
        body: { url },
      });
      expect(answer.status, `PATCH ${url}: ${answer.text}`).toBe(400);
    }
    const unchanged = await callApi<{ url: string }>(stack, "GET", `/v1/subscriptions/${allowed.body.id}`, {
      key,
    });
    expect(unchanged.body.url).toBe(`${receiver.url}/loopback`);
  });

  it("with a deployment's empty ALLOWED_CIDRS, rejects loopback too, also behind a hostname that resolves to it", async () => {
    const { key } = await mintKey(strict);
    for (const url of [
      `http://127.0.0.1:${receiver.port}/`,
      `http://localhost:${receiver.port}/`,
      "http://[::1]/",
    ]) {
      const answer = await callApi<{ error: { code: string } }>(strict, "POST", "/v1/subscriptions", {
        key,
        body: { url, event_types: ["*"] },
      });
      expect(answer.status, `${url}: ${answer.text}`).toBe(400);
      expect(answer.body.error.code).toBe("VALIDATION_FAILED");
    }
    const list = await callApi<{ items: unknown[] }>(strict, "GET", "/v1/subscriptions", { key });
    expect(list.body.items).toEqual([]);
  });
});
