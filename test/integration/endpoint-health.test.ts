import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EndpointHealthStore } from "#shared/adapters/dynamodb/endpoint-health.ts";
import {
  afterLostFirstDial,
  decideLane,
  type FairnessPolicy,
  HEALTHY,
  healthChangeAfter,
} from "#shared/domain/delivery/endpoint-health.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/aws-env.ts";
import { TEST_FAIRNESS_POLICY } from "../support/fairness.ts";

/**
 * The endpoints' shared state on a real table: what several delivery instances (several stores, no
 * shared cache) learn from each other, and the probe claim that lets exactly one of them dial.
 */

const policy: FairnessPolicy = { ...TEST_FAIRNESS_POLICY, breakerThreshold: 3 };

let env: TestEnvironment;
let doc: DynamoDBDocumentClient;
const store = (cacheTtlMs = 0) => new EndpointHealthStore(doc, env.tableName, cacheTtlMs);

beforeAll(async () => {
  env = await createTestEnvironment();
  doc = DynamoDBDocumentClient.from(env.dynamodb);
});
afterAll(() => env?.close());

describe("endpoint health, shared in DynamoDB", () => {
  it("has no state (and costs no write) for an endpoint that never misbehaved", async () => {
    const url = `https://ok.example.com/${crypto.randomUUID()}`;
    const health = await store().load([url], Date.now());
    expect(health.get(url)).toEqual(HEALTHY);
  });

  it("opens the breaker at the threshold, counted across instances, and every instance then keeps away", async () => {
    const url = `https://hole.example.com/${crypto.randomUUID()}`;
    const now = Date.now();
    const instances = [store(), store(), store()];
    // Three instances each see one timeout in the slow lane, at the same time.
    await Promise.all(
      instances.map(async (instance) => {
        const change = healthChangeAfter("slow", { kind: "timed_out" }, HEALTHY, policy, now);
        if (change === null) throw new Error("a timeout always changes the state");
        await instance.apply(url, change, now);
      }),
    );
    const seen = (await store().load([url], now)).get(url) ?? HEALTHY;
    expect(seen.consecutiveTimeouts).toBe(3);
    expect(seen.openUntil).toBe(now + 30_000);
    expect(seen.slowUntil).toBeGreaterThanOrEqual(now + 30_000 + 300_000);
    expect(decideLane("main", seen, policy, now)).toEqual({ kind: "to_slow_lane" });
    expect(decideLane("slow", seen, policy, now)).toEqual({ kind: "defer", delayMs: 30_000 });
  });

  it("lets exactly one of many instances claim the probe once the cooldown has passed", async () => {
    const url = `https://hole.example.com/${crypto.randomUUID()}`;
    const now = Date.now();
    const opener = store();
    for (let i = 0; i < 3; i++) {
      const change = healthChangeAfter("slow", { kind: "timed_out" }, HEALTHY, policy, now);
      if (change) await opener.apply(url, change, now);
    }
    const afterCooldown = now + 30_000;
    // Not before the cooldown ends.
    expect(await store().claimProbe(url, afterCooldown - 1, 20_000)).toBe(false);
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => store().claimProbe(url, afterCooldown, 20_000)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    // A failed probe reopens it for twice as long; an answered one closes it and clears the lane.
    const reopened = healthChangeAfter(
      "slow",
      { kind: "timed_out" },
      HEALTHY,
      policy,
      afterCooldown + 15_000,
    );
    if (reopened === null) throw new Error("a timeout always changes the state");
    const after = await opener.apply(url, reopened, afterCooldown + 15_000);
    expect(after.consecutiveTimeouts).toBe(4);
    expect(after.openUntil).toBe(afterCooldown + 15_000 + 60_000);
    expect(after.probeUntil).toBeNull();
    const recovered = await opener.apply(
      url,
      { kind: "recovered", slowUntil: null, fastUntil: afterCooldown + 140_000 },
      afterCooldown + 80_000,
    );
    const proven = { ...HEALTHY, fastUntil: afterCooldown + 140_000 };
    expect(recovered).toEqual(proven);
    expect((await store().load([url], afterCooldown + 80_000)).get(url)).toEqual(proven);
  });

  it("lets exactly one of many instances hold an unproven endpoint's first dial, until it proves the endpoint or the lease lapses", async () => {
    const url = `https://new.example.com/${crypto.randomUUID()}`;
    const now = Date.now();
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => store().claimFirstDial(url, now, 2500)),
    );
    expect(claims.filter((claim) => claim.won)).toHaveLength(1);
    // The losers read the lease and wait.
    for (const claim of claims.filter((c) => !c.won)) {
      expect(claim.health.dialUntil).toBe(now + 2500);
      expect(afterLostFirstDial(claim.health, policy, now + 1)).toMatchObject({
        kind: "defer",
        reason: "first_dial",
      });
    }
    // A lapsed lease (its holder died) can be claimed again.
    expect((await store().claimFirstDial(url, now + 2500, 2500)).won).toBe(true);
    // The holder's fast answer proves the endpoint and releases the lease: nobody needs it any more.
    const change = healthChangeAfter(
      "main",
      { kind: "answered", latencyMs: 20 },
      claims[0]?.health ?? HEALTHY,
      policy,
      now + 2600,
    );
    if (change === null) throw new Error("a first answer proves the endpoint");
    await store().apply(url, change, now + 2600);
    const after = await store().claimFirstDial(url, now + 2700, 2500);
    expect(after.won).toBe(false);
    expect(after.health).toMatchObject({ fastUntil: now + 2600 + 60_000, dialUntil: null });
    expect(decideLane("main", after.health, policy, now + 2700)).toMatchObject({
      kind: "dial",
      budgetMs: 3000,
    });
    // A budget overrun ends the proof: the main lane hands the endpoint over, no lease is claimed.
    await store().apply(url, { kind: "mark_slow", slowUntil: now + 100_000 }, now + 3000);
    const slow = await store().claimFirstDial(url, now + 3000, 2500);
    expect(slow.won).toBe(false);
    expect(slow.health.fastUntil).toBeNull();
    expect(decideLane("main", slow.health, policy, now + 3000)).toEqual({ kind: "to_slow_lane" });
  });

  it("reuses what it read for the cache TTL, then reads again", async () => {
    const url = `https://slow.example.com/${crypto.randomUUID()}`;
    const now = Date.now();
    const cached = store(2000);
    expect((await cached.load([url], now)).get(url)).toEqual(HEALTHY);
    await store().apply(url, { kind: "mark_slow", slowUntil: now + 60_000 }, now);
    expect((await cached.load([url], now + 1000)).get(url)).toEqual(HEALTHY);
    expect((await cached.load([url], now + 2000)).get(url)?.slowUntil).toBe(now + 60_000);
  });
});
