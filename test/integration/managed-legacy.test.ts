/**
 * Managed legacy subscriptions (PRODUCT §11, issue 20) where a customer meets them: VoIPBIN's control
 * events keep the customer's webhook in step, and the customer's server, written against VoIPBIN's
 * own rules, accepts every delivery unchanged.
 */
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { legacySecretToWhsec, managedSubscriptionId } from "#shared/domain/subscriptions/managed.ts";
import { runNpmScript } from "../support/e2e-stack.ts";
import { eventBridgeEvent, fixtureEvent } from "../support/fixtures.ts";
import {
  deliveryIdOf,
  eventFor,
  type PipelineHarness,
  startPipelineHarness,
  waitForQueueEmpty,
} from "../support/pipeline.ts";
import type { RecordedRequest } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

const callHangup = fixtureEvent("call_hangup");

let harness: PipelineHarness;

beforeAll(async () => {
  harness = await startPipelineHarness({ deliverySource: true });
});

afterAll(async () => {
  await harness?.close();
});

/** A VoIPBIN customer object as the customer-manager publishes it. */
function customer(id: string, fields: Record<string, unknown>) {
  return {
    id,
    name: "Acme",
    webhook_method: "POST",
    webhook_uri: "",
    webhook_secret: "",
    status: "active",
    tm_create: "2026-01-01T00:00:00.000000Z",
    tm_update: "2026-01-01T00:00:00.000000Z",
    tm_delete: null,
    ...fields,
  };
}

function controlEvent(type: string, data: Record<string, unknown>) {
  return eventBridgeEvent(
    {
      Source: "voipbin.customer-manager",
      DetailType: type,
      Detail: JSON.stringify({ customer_id: data.id, data }),
    },
    { id: randomUUID() },
  );
}

/** VoIPBIN's sender's signature: hex HMAC-SHA256 of the body keyed by the secret's ASCII bytes. */
function voipbinAccepts(request: RecordedRequest, webhookSecret: string): boolean {
  const expected = `sha256=${createHmac("sha256", Buffer.from(webhookSecret, "ascii")).update(request.body).digest("hex")}`;
  return request.headers["x-voipbin-signature"] === expected;
}

const base64urlSecret = () => randomBytes(24).toString("base64url"); // 32 characters
const hexSecret = () => randomBytes(32).toString("hex"); // 64 characters

describe("managed legacy subscriptions from VoIPBIN's control events", () => {
  it.each([
    ["32 base64url characters", base64urlSecret()],
    ["64 hex characters", hexSecret()],
  ])(
    "a customer_created with a secret of %s: every delivery verifies with VoIPBIN's rule and with standardwebhooks",
    async (_form, secret) => {
      const id = randomUUID();
      const receiver = await harness.receiver();
      const outcome = await harness.route(
        controlEvent(
          "customer_created",
          customer(id, { webhook_uri: `${receiver.url}/hook`, webhook_secret: secret }),
        ),
      );
      expect(outcome).toMatchObject({ kind: "control", change: "created" });
      const events = [eventFor(callHangup, id), eventFor(callHangup, id), eventFor(callHangup, id)];
      for (const event of events) await harness.route(event);
      const requests = await receiver.waitForRequests(3);
      const verifier = new Webhook(legacySecretToWhsec(secret));
      for (const request of requests) {
        expect(request.method).toBe("POST");
        expect(voipbinAccepts(request, secret)).toBe(true);
        expect(() => verifier.verify(request.body, request.headers)).not.toThrow();
      }
      // The control event itself is never delivered.
      expect(requests.map((r) => JSON.parse(r.body).type)).toEqual([
        "call_hangup",
        "call_hangup",
        "call_hangup",
      ]);
    },
  );

  it("an empty webhook_method arrives as GET with the body, and `*` leaves out the system's own webhook_* types", async () => {
    const id = randomUUID();
    const receiver = await harness.receiver();
    const secret = base64urlSecret();
    await harness.route(
      controlEvent(
        "customer_created",
        customer(id, { webhook_uri: receiver.url, webhook_method: "", webhook_secret: secret }),
      ),
    );
    const own = await harness.route(
      eventBridgeEvent({
        Source: "voipbin.webhooks",
        DetailType: "webhook_subscription_disabled",
        Detail: JSON.stringify({ customer_id: id, data: { id: randomUUID(), reason: "failing" } }),
      }),
    );
    expect(own).toMatchObject({ kind: "routed", subscriptions: 1, matched: 0 });
    const event = eventFor(callHangup, id);
    await harness.route(event);
    const [request] = await receiver.waitForRequests(1);
    expect(request?.method).toBe("GET");
    expect(JSON.parse(request?.body ?? "{}").type).toBe("call_hangup");
    expect(voipbinAccepts(request as RecordedRequest, secret)).toBe(true);
  });

  it("applies updates in tm_update order: an older update arriving late changes nothing", async () => {
    const id = randomUUID();
    const [first, second] = [await harness.receiver(), await harness.receiver()];
    const secret = hexSecret();
    const newer = customer(id, {
      webhook_uri: second.url,
      webhook_secret: secret,
      tm_update: "2026-03-01T10:00:00.000000200Z",
    });
    const older = customer(id, {
      webhook_uri: first.url,
      webhook_secret: secret,
      tm_update: "2026-03-01T10:00:00.000000100Z",
    });
    expect(await harness.route(controlEvent("customer_updated", newer))).toMatchObject({ change: "created" });
    expect(await harness.route(controlEvent("customer_updated", older))).toMatchObject({
      change: "ignored_older",
    });
    // The same version again (a retried router): idempotent.
    expect(await harness.route(controlEvent("customer_updated", newer))).toMatchObject({
      change: "unchanged",
    });
    await harness.route(eventFor(callHangup, id));
    await second.waitForRequests(1);
    expect(first.requests).toHaveLength(0);
    const stored = await harness.repos.subscriptions.get(id, managedSubscriptionId(id));
    expect(stored).toMatchObject({
      url: second.url,
      managed_by: "voipbin.customer-manager",
      delivery_profile: "legacy",
    });
  });

  it("deletion (customer_deleted, or webhook_uri emptied) stops deliveries, and an older update does not bring it back", async () => {
    const id = randomUUID();
    const receiver = await harness.receiver();
    const secret = base64urlSecret();
    const at = (n: number) => `2026-04-01 10:00:0${n}.000000`; // VoIPBIN's DATETIME(6) text form
    await harness.route(
      controlEvent(
        "customer_created",
        customer(id, { webhook_uri: receiver.url, webhook_secret: secret, tm_update: at(1) }),
      ),
    );
    await harness.route(eventFor(callHangup, id));
    await receiver.waitForRequests(1);

    expect(
      await harness.route(
        controlEvent("customer_updated", customer(id, { webhook_uri: "", tm_update: at(2) })),
      ),
    ).toMatchObject({ change: "removed" });
    expect(await harness.repos.subscriptions.get(id, managedSubscriptionId(id))).toBeNull();
    await harness.route(
      controlEvent(
        "customer_updated",
        customer(id, { webhook_uri: receiver.url, webhook_secret: secret, tm_update: at(1) }),
      ),
    );
    expect(await harness.repos.subscriptions.get(id, managedSubscriptionId(id))).toBeNull();

    // Back with a newer version, then deleted.
    await harness.route(
      controlEvent(
        "customer_updated",
        customer(id, { webhook_uri: receiver.url, webhook_secret: secret, tm_update: at(3) }),
      ),
    );
    expect(await harness.repos.subscriptions.get(id, managedSubscriptionId(id))).not.toBeNull();
    expect(
      await harness.route(
        controlEvent(
          "customer_deleted",
          customer(id, { webhook_uri: receiver.url, webhook_secret: secret, tm_update: at(4) }),
        ),
      ),
    ).toMatchObject({ change: "removed" });
    const routed = await harness.route(eventFor(callHangup, id));
    expect(routed).toMatchObject({ kind: "routed", matched: 0 });
    expect(receiver.requests).toHaveLength(1);
  });

  it("parks a malformed control event as unroutable, listing every problem, and never logs the secret", async () => {
    const id = randomUUID();
    const bad = controlEvent(
      "customer_updated",
      customer(id, {
        webhook_uri: "ftp://example.com/hook",
        webhook_method: "PATCH",
        webhook_secret: "too-short-secret-value",
        tm_update: "yesterday",
      }),
    );
    expect(await harness.route(bad)).toMatchObject({ kind: "unroutable", reason: "invalid_control_event" });
    const messages = await harness.env.receiveAll(harness.env.queues.unroutableQueueUrl, { waitMs: 2000 });
    const parked = messages.map((m) => JSON.parse(m.Body ?? "{}")).find((b) => b.event?.id === bad.id);
    expect(parked?.reason).toBe("invalid_control_event");
    expect(parked?.details).toEqual([
      expect.stringContaining("data.tm_update"),
      expect.stringContaining("data.webhook_uri"),
      expect.stringContaining("data.webhook_method"),
      expect.stringContaining("data.webhook_secret"),
    ]);
    expect(parked?.details.join(" ")).not.toContain("too-short-secret-value");
    await waitFor(
      async () => (await harness.repos.subscriptions.get(id, managedSubscriptionId(id))) === null,
      {
        timeoutMs: 1000,
        description: "no managed subscription",
      },
    );
  });
});

/** A managed subscription for a new customer, delivering to `url`; answers the customer id and secret. */
async function managedCustomer(url: string, method = "POST"): Promise<{ id: string; secret: string }> {
  const id = randomUUID();
  const secret = base64urlSecret();
  const outcome = await harness.route(
    controlEvent(
      "customer_created",
      customer(id, { webhook_uri: url, webhook_method: method, webhook_secret: secret }),
    ),
  );
  expect(outcome).toMatchObject({ kind: "control", change: "created" });
  return { id, secret };
}

describe("the legacy delivery profile: VoIPBIN's outcome rules, our durability", () => {
  it.each([404, 410, 400])(
    "a %i gets one request and no retry: dead, endpoint_rejected, not dead-lettered",
    async (status) => {
      const receiver = await harness.receiver(() => ({ status, body: "no" }));
      const { id } = await managedCustomer(receiver.url);
      const event = eventFor(callHangup, id);
      await harness.route(event);
      const deliveryId = deliveryIdOf(event, managedSubscriptionId(id));
      await waitFor(async () => (await harness.repos.deliveries.get(id, deliveryId))?.status === "dead", {
        timeoutMs: 10_000,
        description: "the delivery closed",
      });
      const record = await harness.repos.deliveries.get(id, deliveryId);
      expect(record).toMatchObject({ status: "dead", dead_reason: "endpoint_rejected" });
      expect(record?.attempts.map((a) => a.status_code)).toEqual([status]);
      // The job is gone from the queue (no retry can come), after one request; nothing dead-lettered.
      await waitForQueueEmpty(harness.env, harness.env.queues.deliveryQueueUrl);
      expect(receiver.requests).toHaveLength(1);
      const dead = await harness.env.receiveAll(harness.env.queues.deliveryDlqUrl, { waitMs: 300 });
      expect(dead.filter((m) => m.Body?.includes(deliveryId))).toEqual([]);
      // 410 is not special here: the managed subscription stays enabled.
      expect(await harness.repos.subscriptions.get(id, managedSubscriptionId(id))).toMatchObject({
        status: "enabled",
      });
    },
  );

  it("a 500 gets retries on the schedule, and the delivery succeeds when the endpoint recovers", async () => {
    const receiver = await harness.receiver((_request, n) => (n < 3 ? { status: 500 } : { status: 200 }));
    const { id, secret } = await managedCustomer(receiver.url);
    await harness.route(eventFor(callHangup, id));
    const requests = await receiver.waitForRequests(3, 15_000);
    expect(requests.every((request) => voipbinAccepts(request, secret))).toBe(true);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
  });

  it("a 307 to another receiver delivers the same POST body there, signed as VoIPBIN signs it", async () => {
    const target = await harness.receiver();
    const redirecting = await harness.receiver(() => ({
      status: 307,
      headers: { location: `${target.url}/moved` },
    }));
    const { id, secret } = await managedCustomer(`${redirecting.url}/hook`);
    const event = eventFor(callHangup, id);
    await harness.route(event);
    const [arrived] = await target.waitForRequests(1);
    expect(arrived).toMatchObject({ method: "POST", url: "/moved" });
    expect(arrived?.body).toBe(redirecting.requests[0]?.body);
    expect(voipbinAccepts(arrived as RecordedRequest, secret)).toBe(true);
    const deliveryId = deliveryIdOf(event, managedSubscriptionId(id));
    await waitFor(async () => (await harness.repos.deliveries.get(id, deliveryId))?.status === "succeeded", {
      timeoutMs: 10_000,
      description: "the delivery succeeded",
    });
  });

  it("a redirect to a blocked address is not followed (retried as VoIPBIN retries a refused dial)", async () => {
    const redirecting = await harness.receiver(() => ({
      status: 302,
      headers: { location: "http://169.254.169.254/latest/meta-data/" },
    }));
    const { id } = await managedCustomer(redirecting.url);
    const event = eventFor(callHangup, id);
    await harness.route(event);
    const deliveryId = deliveryIdOf(event, managedSubscriptionId(id));
    await waitFor(
      async () => ((await harness.repos.deliveries.get(id, deliveryId))?.attempts.length ?? 0) >= 1,
      { timeoutMs: 10_000, description: "an attempt recorded" },
    );
    const record = await harness.repos.deliveries.get(id, deliveryId);
    expect(record?.attempts[0]).toMatchObject({ status_code: null });
    expect(record?.attempts[0]?.error).toMatch(/^blocked_destination/);
    expect(record?.status).not.toBe("succeeded");
  });
});

/** `npm run ops -- <args>` against this harness's table, as an operator runs it. */
const ops = (args: readonly string[]) =>
  runNpmScript(
    "ops",
    args,
    {
      DYNAMODB_ENDPOINT: String(harness.env.env.DYNAMODB_ENDPOINT),
      TABLE_NAME: harness.env.tableName,
      DELIVERIES_TABLE_NAME: harness.env.deliveriesTableName,
    },
    60_000,
  );

describe("shadow mode", () => {
  it("sends nothing, and `ops shadow export` writes what would have been sent, signed as it would be", async () => {
    const receiver = await harness.receiver();
    const { id, secret } = await managedCustomer(`${receiver.url}/hook`);
    const since = new Date(Date.now() - 60_000).toISOString();
    const shadowEvent = eventFor(callHangup, id);
    (shadowEvent.detail as Record<string, unknown>).delivery_mode = "shadow";
    expect(await harness.route(shadowEvent)).toMatchObject({ kind: "routed", matched: 1, shadow: true });
    // A live event after it: once it has arrived, the shadow job (queued first) has been handled too.
    await harness.route(eventFor(callHangup, id));
    const deliveryId = deliveryIdOf(shadowEvent, managedSubscriptionId(id));
    await receiver.waitForRequests(1);
    await waitForQueueEmpty(harness.env, harness.env.queues.deliveryQueueUrl);
    expect(receiver.requests).toHaveLength(1);
    // Not in the customer's delivery log, so not in its statistics either.
    expect(await harness.repos.deliveries.get(id, deliveryId)).toBeNull();

    const exported = await ops(["shadow", "export", "--since", since, "--customer", id]);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = exported.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(1);
    const body = `{"type":"call_hangup","data":${JSON.stringify((shadowEvent.detail as { data: unknown }).data)}}`;
    expect(lines[0]).toMatchObject({
      customer_id: id,
      delivery_id: deliveryId,
      event_id: shadowEvent.id,
      method: "POST",
      url: `${receiver.url}/hook`,
      body_sha256: createHash("sha256").update(body).digest("hex"),
      body_bytes: Buffer.byteLength(body),
    });
    // The headers are what a receiver written against VoIPBIN's rules would have verified.
    const headers = lines[0].headers as Record<string, string>;
    expect(headers["x-voipbin-signature"]).toBe(
      `sha256=${createHmac("sha256", Buffer.from(secret, "ascii")).update(body).digest("hex")}`,
    );
    expect(() => new Webhook(legacySecretToWhsec(secret)).verify(body, headers)).not.toThrow();
    // Another customer's export does not list it; a bad option is a usage error naming it.
    const other = await ops(["shadow", "export", "--since", since, "--customer", randomUUID()]);
    expect(other.stdout).toBe("");
    const bad = await ops(["shadow", "export", "--since", "yesterday"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--since takes an RFC 3339 time");
  });

  it("refuses a delivery_mode it does not know instead of delivering it", async () => {
    const event = eventFor(callHangup, randomUUID());
    (event.detail as Record<string, unknown>).delivery_mode = "Shadow";
    expect(await harness.route(event)).toMatchObject({ kind: "unroutable", reason: "invalid_detail" });
  });
});

describe("legacy import", () => {
  it("applies a VoIPBIN export with the control events' rules, reports every bad row by line, loses nothing valid", async () => {
    const [a, b] = [await harness.receiver(), await harness.receiver()];
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const secret = hexSecret();
    const dir = mkdtempSync(path.join(tmpdir(), "legacy-import-"));
    const file = path.join(dir, "customers.jsonl");
    const row = (id: string, uri: string, tm: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        id,
        webhook_uri: uri,
        webhook_method: "POST",
        webhook_secret: secret,
        tm_update: tm,
        ...extra,
      });
    // A control event newer than the export's row for customer 0 arrived first: the import must not undo it.
    await harness.route(
      controlEvent(
        "customer_updated",
        customer(ids[0] as string, {
          webhook_uri: b.url,
          webhook_secret: secret,
          tm_update: "2026-09-01T00:00:00Z",
        }),
      ),
    );
    writeFileSync(
      file,
      [
        row(ids[0] as string, a.url, "2026-08-01T00:00:00Z"),
        "{not json, with the secret s3cr3t-in-a-bad-line",
        row(ids[1] as string, a.url, "2026-08-01T00:00:00Z"),
        row("not-a-uuid", "ftp://x", "soon", { webhook_method: "PATCH", webhook_secret: "short" }),
        "",
        row(ids[2] as string, "", "2026-08-01T00:00:00Z"),
        row(ids[1] as string, b.url, "2026-08-02T00:00:00Z"),
      ].join("\n"),
    );
    const dry = await ops(["legacy", "import", file, "--dry-run"]);
    expect(dry.code).toBe(1);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, rows: 6, valid: 4, invalid: 2 });
    expect(
      await harness.repos.subscriptions.get(ids[1] as string, managedSubscriptionId(ids[1] as string)),
    ).toBeNull();

    const run = await ops(["legacy", "import", file]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({
      dry_run: false,
      rows: 6,
      valid: 4,
      invalid: 2,
      failed: 0,
      changes: { ignored_older: 1, removed: 0 },
    });
    expect(run.stderr).toContain("line 2: not a JSON object");
    const line4 = run.stderr.split("\n").find((l) => l.startsWith("line 4:")) ?? "";
    for (const field of [
      "data.id",
      "data.tm_update",
      "data.webhook_uri",
      "data.webhook_method",
      "data.webhook_secret",
    ]) {
      expect(line4).toContain(field);
    }
    expect(run.stderr).not.toContain("s3cr3t");
    expect(run.stderr).not.toContain(secret);
    // Customer 0 keeps the newer event's URL; customer 1 has its later row's, whatever the file order.
    expect(
      await harness.repos.subscriptions.get(ids[0] as string, managedSubscriptionId(ids[0] as string)),
    ).toMatchObject({ url: b.url });
    expect(
      await harness.repos.subscriptions.get(ids[1] as string, managedSubscriptionId(ids[1] as string)),
    ).toMatchObject({ url: b.url });
    expect(
      await harness.repos.subscriptions.get(ids[2] as string, managedSubscriptionId(ids[2] as string)),
    ).toBeNull();
    // A re-run changes nothing, and an older control event arriving after the import is ignored too.
    const again = await ops(["legacy", "import", file]);
    expect(JSON.parse(again.stdout).changes).toMatchObject({ created: 0, updated: 0 });
    expect(
      await harness.route(
        controlEvent(
          "customer_updated",
          customer(ids[1] as string, {
            webhook_uri: a.url,
            webhook_secret: secret,
            tm_update: "2026-08-01T12:00:00Z",
          }),
        ),
      ),
    ).toMatchObject({ change: "ignored_older" });
    await harness.route(eventFor(callHangup, ids[1] as string));
    const [arrived] = await b.waitForRequests(1);
    expect(voipbinAccepts(arrived as RecordedRequest, secret)).toBe(true);
    expect(a.requests).toHaveLength(0);
  });
});

/** A call event of the customer whose data names this activeflow, optionally with the inline destination. */
function callEventOf(customerId: string, activeflowId: string, inline?: { uri: string; method: string }) {
  const event = eventFor(callHangup, customerId);
  const detail = event.detail as { data: Record<string, unknown> } & Record<string, unknown>;
  detail.data = { ...detail.data, id: randomUUID(), activeflow_id: activeflowId };
  if (inline) detail.activeflow_webhook = inline;
  return event;
}

function activeflowEvent(
  type: string,
  customerId: string,
  activeflowId: string,
  fields: Record<string, unknown>,
) {
  return eventBridgeEvent(
    {
      Source: "voipbin.flow-manager",
      DetailType: type,
      Detail: JSON.stringify({
        customer_id: customerId,
        data: { id: activeflowId, customer_id: customerId, status: "running", ...fields },
      }),
    },
    { id: randomUUID() },
  );
}

describe("activeflow destinations (issue 21)", () => {
  it("an activeflow's destination receives that activeflow's events only, besides the customer's own, signed with the customer's secret; nothing after activeflow_deleted", async () => {
    const own = await harness.receiver();
    const flowReceiver = await harness.receiver();
    const { id, secret } = await managedCustomer(own.url);
    const [flow, other] = [randomUUID(), randomUUID()];
    const created = await harness.route(
      activeflowEvent("activeflow_created", id, flow, {
        webhook_uri: `${flowReceiver.url}/flow`,
        webhook_method: "PUT",
        tm_create: "2026-10-01T00:00:00.000001Z",
        tm_update: "2026-10-01T00:00:00.000001Z",
      }),
    );
    // Customer-facing as well: the managed subscription receives activeflow_created itself.
    expect(created).toMatchObject({ kind: "routed", matched: 1 });
    expect(await harness.route(callEventOf(id, flow))).toMatchObject({ kind: "routed", matched: 2 });
    expect(await harness.route(callEventOf(id, other))).toMatchObject({ kind: "routed", matched: 1 });
    const [arrived] = await flowReceiver.waitForRequests(1);
    expect(arrived).toMatchObject({ method: "PUT", url: "/flow" });
    expect(JSON.parse(arrived?.body ?? "{}").data.activeflow_id).toBe(flow);
    expect(voipbinAccepts(arrived as RecordedRequest, secret)).toBe(true);
    await own.waitForRequests(3);
    // The destination's webhook-id is its own (another subscription id), and stable per event.
    const ownCopy = own.requests.find((r) => r.body === arrived?.body);
    expect(ownCopy?.headers["webhook-id"]).toBeDefined();
    expect(ownCopy?.headers["webhook-id"]).not.toBe(arrived?.headers["webhook-id"]);

    await harness.route(
      activeflowEvent("activeflow_deleted", id, flow, {
        webhook_uri: `${flowReceiver.url}/flow`,
        tm_update: "2026-10-01T00:05:00Z",
        tm_delete: "2026-10-01T00:05:00Z",
      }),
    );
    // An older update arriving late does not bring it back.
    await harness.route(
      activeflowEvent("activeflow_updated", id, flow, {
        webhook_uri: `${flowReceiver.url}/flow`,
        tm_update: "2026-10-01T00:01:00Z",
      }),
    );
    expect(await harness.route(callEventOf(id, flow))).toMatchObject({ kind: "routed", matched: 1 });
    await own.waitForRequests(6);
    await waitForQueueEmpty(harness.env, harness.env.queues.deliveryQueueUrl);
    expect(flowReceiver.requests).toHaveLength(1);
  });

  it("an event that arrives before activeflow_created but carries activeflow_webhook is delivered there", async () => {
    const own = await harness.receiver();
    const flowReceiver = await harness.receiver();
    const { id, secret } = await managedCustomer(own.url);
    const flow = randomUUID();
    const early = callEventOf(id, flow, { uri: `${flowReceiver.url}/early`, method: "" });
    expect(await harness.route(early)).toMatchObject({ kind: "routed", matched: 2 });
    const [arrived] = await flowReceiver.waitForRequests(1);
    expect(arrived).toMatchObject({ method: "GET", url: "/early" });
    expect(voipbinAccepts(arrived as RecordedRequest, secret)).toBe(true);
    // The flow-manager's own event then wins over the inline value.
    await harness.route(
      activeflowEvent("activeflow_created", id, flow, {
        webhook_uri: `${flowReceiver.url}/official`,
        webhook_method: "POST",
        tm_create: "2026-10-01T00:00:00Z",
      }),
    );
    await harness.route(callEventOf(id, flow, { uri: `${flowReceiver.url}/early`, method: "" }));
    const requests = await flowReceiver.waitForRequests(2);
    expect(requests[1]).toMatchObject({ method: "POST", url: "/official" });
  });
});

// Last in the file: every call the tests above made through the router and the delivery function.
describe("IAM (AWS's rule, which the local stack does not enforce: docs/security.md)", () => {
  it("the router's and the delivery function's roles allow every DynamoDB, SQS and EventBridge call these tests made", () => {
    expect(harness.ungrantedCalls()).toEqual([]);
  });
});
