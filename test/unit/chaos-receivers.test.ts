import { afterEach, describe, expect, it } from "vitest";
import { generateSecret, signDelivery } from "#shared/domain/signing.ts";
import { ReceiverHub } from "../../bench/chaos/receivers.ts";
import { pairKey } from "../../bench/chaos/reconcile.ts";

const SUBSCRIPTION = "6e8e2d3a-5b1f-4c8e-9d0a-1f2e3d4c5b6a";

async function post(url: string, body: string, secret: string, webhookId = "msg_0123456789abcdef") {
  const headers = signDelivery({ webhookId, timestamp: new Date(), body, secrets: [secret] });
  try {
    const response = await fetch(url, { method: "POST", body, headers: { ...headers } });
    await response.text();
    return response.status;
  } catch {
    return "error";
  }
}

describe("chaos receivers", () => {
  let hub: ReceiverHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it("records each request under its delivery, and counts a delivery only once a 2xx was written", async () => {
    hub = await ReceiverHub.start({ profiles: ["healthy", "always_failing"], senderTimeoutMs: 500, seed: 1 });
    const secret = generateSecret();
    hub.register(SUBSCRIPTION, secret);
    const body = '{"type":"call_hangup","data":{"chaos_key":"e1"}}';
    expect([200, 204]).toContain(await post(hub.urlFor("healthy", SUBSCRIPTION), body, secret));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const key = pairKey("e1", SUBSCRIPTION);
    expect(hub.received.get(key)).toMatchObject({ requests: 1, acks: 1 });
    expect([...(hub.received.get(key)?.webhookIds ?? [])]).toEqual(["msg_0123456789abcdef"]);

    const failing = '{"type":"call_hangup","data":{"chaos_key":"e2"}}';
    for (let i = 0; i < 5; i++) {
      const status = await post(hub.urlFor("always_failing", SUBSCRIPTION), failing, secret);
      expect(status === "error" || status >= 500).toBe(true);
    }
    expect(hub.received.get(pairKey("e2", SUBSCRIPTION))).toMatchObject({ requests: 5, acks: 0 });
    expect(hub.signatureFailures).toBe(0);
  });

  it("counts requests whose signature does not verify", async () => {
    hub = await ReceiverHub.start({ profiles: ["healthy"], senderTimeoutMs: 500, seed: 1 });
    hub.register(SUBSCRIPTION, generateSecret());
    await post(
      hub.urlFor("healthy", SUBSCRIPTION),
      '{"type":"x","data":{"chaos_key":"e1"}}',
      generateSecret(),
    );
    expect(hub.signatureFailures).toBe(1);
  });
});
