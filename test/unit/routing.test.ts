import { describe, expect, it } from "vitest";
import { chunkForSendMessageBatch } from "#shared/adapters/delivery-queue.ts";
import { DepthBoundedLogger } from "#shared/adapters/observability.ts";
import { parseDeliveryJob, serializeDeliveryJob } from "#shared/domain/delivery/job.ts";
import { UnroutableEventError } from "#shared/domain/errors.ts";
import {
  MAX_DETAIL_DEPTH,
  parseRoutableEvent,
  UNROUTABLE_REASONS,
  webhookBody,
} from "#shared/domain/events/schemas.ts";
import {
  cutBelowDepth,
  DEPTH_CUT_MARKER,
  depthBoundedReplacer,
  nestsDeeperThan,
} from "#shared/domain/json.ts";
import type { RoutingSubscription } from "#shared/domain/ports/subscriptions.ts";
import { subscriptionMatches } from "#shared/domain/subscriptions/subscription.ts";
import { buildDeliveryJobs, routeEvent } from "#shared/services/route-event.ts";
import { renderLogLine } from "../../local/log-format.ts";
import { CUSTOMER_A, eventBridgeEvent, loadFixtureEvents } from "../support/fixtures.ts";

const fixtures = loadFixtureEvents();
const callHangup = fixtures.get("call_hangup");
if (!callHangup) throw new Error("fixture call_hangup missing");

function sub(overrides: Partial<RoutingSubscription> = {}): RoutingSubscription {
  return {
    id: "0196f1a2-0000-7000-8000-000000000001",
    customer_id: CUSTOMER_A,
    event_types: ["*"],
    activeflow_id: null,
    status: "enabled",
    ...overrides,
  };
}

function unroutableReason(input: unknown): string {
  try {
    parseRoutableEvent(input);
  } catch (error) {
    if (error instanceof UnroutableEventError) return error.reason;
    throw error;
  }
  return "routable";
}

describe("parseRoutableEvent", () => {
  it("accepts every sample event", () => {
    for (const [name, entry] of fixtures) {
      const event = parseRoutableEvent(eventBridgeEvent(entry));
      expect(event.type, name).toBe(entry.DetailType);
      expect(event.customerId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("names the reason an event is unroutable", () => {
    const good = eventBridgeEvent(callHangup);
    expect(unroutableReason(good)).toBe("routable");
    expect(unroutableReason("not an event")).toBe(UNROUTABLE_REASONS.invalidEnvelope);
    expect(unroutableReason({ ...good, id: undefined })).toBe(UNROUTABLE_REASONS.invalidEnvelope);
    expect(unroutableReason({ ...good, "detail-type": "call_exploded" })).toBe(
      UNROUTABLE_REASONS.unknownEventType,
    );
    expect(unroutableReason({ ...good, "detail-type": "queue_created" })).toBe(
      UNROUTABLE_REASONS.unknownEventType,
    );
    expect(unroutableReason({ ...good, detail: { customer_id: "42", data: {} } })).toBe(
      UNROUTABLE_REASONS.invalidCustomerId,
    );
    expect(unroutableReason({ ...good, detail: { data: {} } })).toBe(UNROUTABLE_REASONS.invalidCustomerId);
    expect(unroutableReason({ ...good, detail: { customer_id: CUSTOMER_A } })).toBe(
      UNROUTABLE_REASONS.invalidDetail,
    );
    expect(unroutableReason({ ...good, detail: { customer_id: CUSTOMER_A, data: [1] } })).toBe(
      UNROUTABLE_REASONS.invalidDetail,
    );
    expect(unroutableReason({ ...good, detail: "a string" })).toBe(UNROUTABLE_REASONS.invalidDetail);
  });

  it("parks an unroutable event with the details an operator reads on the unroutable queue", () => {
    const good = eventBridgeEvent(callHangup);
    const details = (input: unknown): readonly string[] => {
      try {
        parseRoutableEvent(input);
      } catch (error) {
        if (error instanceof UnroutableEventError) return error.details;
        throw error;
      }
      return [];
    };
    expect(details("not an event")).toEqual(["(root): Invalid input"]);
    expect(details({ ...good, id: undefined })).toEqual(["id: Invalid input"]);
    expect(details({ ...good, "detail-type": `x${"y".repeat(200)}` })).toEqual([
      `"x${"y".repeat(99)}" is not in the catalogue`,
    ]);
    expect(details({ ...good, detail: [] })).toEqual(["detail must be an object {customer_id, data}"]);
    expect(details({ ...good, detail: null })).toEqual(["detail must be an object {customer_id, data}"]);
    expect(details({ ...good, detail: { customer_id: "42", data: {} } })).toEqual([
      "detail.customer_id must be a UUID",
    ]);
    expect(
      details({ ...good, detail: { customer_id: CUSTOMER_A, data: [1], delivery_mode: "Shadow" } }),
    ).toEqual([
      "detail.data: Invalid input",
      'detail.delivery_mode: must be "live" or "shadow" when present',
    ]);
    expect(
      details({ ...good, detail: { customer_id: CUSTOMER_A, data: {}, delivery_mode: "shadw" } }),
    ).toEqual(['detail.delivery_mode: must be "live" or "shadow" when present']);
  });

  it("records a shadow event without delivering it, and delivers a live one or one without a mode", () => {
    const good = eventBridgeEvent(callHangup);
    const withMode = (delivery_mode?: string) =>
      parseRoutableEvent({ ...good, detail: { customer_id: CUSTOMER_A, data: { id: "x" }, delivery_mode } });
    expect(withMode("shadow").shadow).toBe(true);
    expect(withMode("live").shadow).toBe(false);
    expect(withMode().shadow).toBe(false);
  });

  it("carries an inline activeflow webhook as given, and nothing for a malformed one", () => {
    const good = eventBridgeEvent(callHangup);
    const withInline = (activeflow_webhook: unknown) =>
      parseRoutableEvent({
        ...good,
        detail: { customer_id: CUSTOMER_A, data: { id: "x" }, activeflow_webhook },
      });
    expect(withInline({ uri: "https://a.example/f", method: "POST", extra: 1 }).activeflowWebhook).toEqual({
      uri: "https://a.example/f",
      method: "POST",
    });
    expect(withInline(["https://a.example/f"])).not.toHaveProperty("activeflowWebhook");
    expect(withInline(null)).not.toHaveProperty("activeflowWebhook");
    expect(withInline("https://a.example/f")).not.toHaveProperty("activeflowWebhook");
  });

  it("canonicalises the customer id to lower case", () => {
    const event = eventBridgeEvent(callHangup);
    const upper = {
      ...event,
      detail: { ...(event.detail as object), customer_id: CUSTOMER_A.toUpperCase() },
    };
    expect(parseRoutableEvent(upper).customerId).toBe(CUSTOMER_A);
  });

  it("passes the resource on exactly as it arrived, keys like __proto__ included", () => {
    const event = eventBridgeEvent(callHangup);
    // As the bus delivers it: parsed from JSON text, where "__proto__" is an ordinary key.
    const detail = JSON.parse(`{"customer_id":"${CUSTOMER_A}","data":{"id":"x","__proto__":{"a":1},"n":2}}`);
    const parsed = parseRoutableEvent({ ...event, detail });
    expect(webhookBody("call_hangup", parsed.data)).toBe(
      '{"type":"call_hangup","data":{"id":"x","__proto__":{"a":1},"n":2}}',
    );
  });
});

describe("events nested too deep", () => {
  const nested = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = { a: value };
    return value;
  };
  const withDataDepth = (levels: number) => {
    const good = eventBridgeEvent(callHangup);
    // detail {customer_id, data} is one level; data the second; its content the rest.
    return { ...good, detail: { customer_id: CUSTOMER_A, data: nested(levels - 1) } };
  };

  it("routes a detail exactly MAX_DETAIL_DEPTH deep and refuses one level more as too_deep", () => {
    expect(unroutableReason(withDataDepth(MAX_DETAIL_DEPTH))).toBe("routable");
    expect(unroutableReason(withDataDepth(MAX_DETAIL_DEPTH + 1))).toBe(UNROUTABLE_REASONS.tooDeep);
    expect(unroutableReason(withDataDepth(100_000))).toBe(UNROUTABLE_REASONS.tooDeep);
  });

  it("parks a deep event with its deepest parts cut, serialisable", async () => {
    const parked: unknown[] = [];
    const event = withDataDepth(20_000);
    const outcome = await routeEvent(event, {
      subscriptions: { listForRouting: async () => [] },
      deliveryQueue: { enqueue: async () => ({ sent: 0, requests: 0 }) },
      unroutableQueue: { send: async (record) => void parked.push(record) },
      payloads: { putPayload: async () => {} },
      managed: { apply: async () => "unchanged" },
      activeflows: { apply: async () => "applied", lookup: async () => "unknown", putInline: async () => {} },
      retentionDays: 30,
    });
    expect(outcome).toMatchObject({ kind: "unroutable", reason: "too_deep" });
    expect(() => JSON.stringify(parked[0])).not.toThrow();
    expect(JSON.stringify(parked[0])).toContain(DEPTH_CUT_MARKER);
  });

  it("the depth helpers never recurse past their bound", () => {
    const deep = nested(200_000);
    expect(nestsDeeperThan(deep, 64)).toBe(true);
    expect(nestsDeeperThan(nested(64), 64)).toBe(false);
    expect(JSON.stringify(deep, depthBoundedReplacer(3))).toBe(`{"a":{"a":{"a":"${DEPTH_CUT_MARKER}"}}}`);
    expect(JSON.stringify(cutBelowDepth(deep, 2))).toBe(`{"a":{"a":"${DEPTH_CUT_MARKER}"}}`);
    // A `__proto__` key stays data in the copy.
    const copy = cutBelowDepth(JSON.parse('{"__proto__": {"x": 1}}'), 5) as object;
    expect(Object.keys(copy)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
  });

  it("the logger and the local log renderer write a 100,000-level value without overflowing", () => {
    const lines: string[] = [];
    const logger = new DepthBoundedLogger({ serviceName: "test" });
    // Powertools writes through its own console object; catch what it writes.
    const target = (logger as unknown as { console: { warn: (line: unknown) => void } }).console;
    const saved = target.warn;
    target.warn = (line: unknown) => void lines.push(String(line));
    try {
      expect(() => logger.warn("deep", { record: nested(100_000) })).not.toThrow();
    } finally {
      target.warn = saved;
    }
    expect(lines[0]).toContain(DEPTH_CUT_MARKER);
    const deepLine = `{"level":"WARN","message":"m","x":${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}}`;
    expect(renderLogLine(deepLine)).toContain(DEPTH_CUT_MARKER);
  });
});

describe("webhookBody", () => {
  it("is VoIPBIN's envelope byte for byte: compact, type then data, data keys in bus order", () => {
    for (const entry of fixtures.values()) {
      const data = (JSON.parse(entry.Detail) as { data: unknown }).data;
      const expected = `{"type":"${entry.DetailType}","data":${entry.Detail.slice(entry.Detail.indexOf('"data":') + 7, -1)}}`;
      expect(webhookBody(entry.DetailType, data)).toBe(expected);
    }
  });
});

describe("subscriptionMatches", () => {
  const data = { activeflow_id: "c9d8e7f6-1111-4222-8333-444455556666" };
  it("matches exact types, resource wildcards and *", () => {
    expect(subscriptionMatches(sub({ event_types: ["call_hangup"] }), "call_hangup", data)).toBe(true);
    expect(subscriptionMatches(sub({ event_types: ["call_created"] }), "call_hangup", data)).toBe(false);
    expect(subscriptionMatches(sub({ event_types: ["call_*"] }), "call_hangup", data)).toBe(true);
    expect(subscriptionMatches(sub({ event_types: ["call_*"] }), "groupcall_hangup", data)).toBe(false);
    expect(subscriptionMatches(sub({ event_types: ["message_*", "call_*"] }), "call_hangup", data)).toBe(
      true,
    );
    expect(subscriptionMatches(sub({ event_types: ["*"] }), "recording_finished", data)).toBe(true);
  });
  it("never matches a disabled subscription", () => {
    expect(subscriptionMatches(sub({ status: "disabled" }), "call_hangup", data)).toBe(false);
  });
  it("filters on the activeflow id when the subscription has one", () => {
    expect(subscriptionMatches(sub({ activeflow_id: data.activeflow_id }), "call_hangup", data)).toBe(true);
    expect(
      subscriptionMatches(sub({ activeflow_id: data.activeflow_id }), "call_hangup", {
        activeflow_id: data.activeflow_id.toUpperCase(),
      }),
    ).toBe(true);
    expect(
      subscriptionMatches(
        sub({ activeflow_id: "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6" }),
        "call_hangup",
        data,
      ),
    ).toBe(false);
    expect(subscriptionMatches(sub({ activeflow_id: data.activeflow_id }), "agent_updated", {})).toBe(false);
  });
});

describe("buildDeliveryJobs", () => {
  const event = parseRoutableEvent(eventBridgeEvent(callHangup, { id: "evt-1" }));
  it("makes one job per matching subscription, with stable and distinct ids", () => {
    const subs = [
      sub({ id: "0196f1a2-0000-7000-8000-000000000001", event_types: ["call_*"] }),
      sub({ id: "0196f1a2-0000-7000-8000-000000000002", event_types: ["call_hangup"] }),
      sub({ id: "0196f1a2-0000-7000-8000-000000000003", event_types: ["message_*"] }),
      sub({ id: "0196f1a2-0000-7000-8000-000000000004", event_types: ["*"], status: "disabled" }),
    ];
    const jobs = buildDeliveryJobs(event, subs);
    expect(jobs.map((j) => j.subscription_id)).toEqual([subs[0]?.id, subs[1]?.id]);
    expect(new Set(jobs.map((j) => j.webhook_id)).size).toBe(2);
    expect(buildDeliveryJobs(event, subs)).toEqual(jobs);
    for (const job of jobs) {
      expect(parseDeliveryJob(serializeDeliveryJob(job))).toEqual(job);
      expect(job.payload).toBe(webhookBody(event.type, event.data));
    }
  });
});

describe("chunkForSendMessageBatch", () => {
  it("groups by at most 10 entries", () => {
    const groups = chunkForSendMessageBatch(Array.from({ length: 23 }, (_, i) => `m${i}`));
    expect(groups.map((g) => g.length)).toEqual([10, 10, 3]);
  });
  it("keeps each group within the byte limit, counting UTF-8 bytes", () => {
    const big = "é".repeat(150_000); // 300,000 bytes
    const groups = chunkForSendMessageBatch([big, big, big, big, "small"], 10, 1_048_576);
    expect(groups.map((g) => g.length)).toEqual([3, 2]);
    for (const group of groups) {
      expect(group.reduce((n, body) => n + Buffer.byteLength(body), 0)).toBeLessThanOrEqual(1_048_576);
    }
  });
});

describe("delivery job", () => {
  it("rejects bodies that are not jobs", () => {
    expect(() => parseDeliveryJob("nope")).toThrow(/not JSON/);
    expect(() => parseDeliveryJob(JSON.stringify({ v: 1 }))).toThrow(/invalid delivery job/);
  });

  it("names every field that is wrong, each with its problem, in one message", () => {
    const message = (() => {
      try {
        parseDeliveryJob(JSON.stringify({ v: 1, delivery_id: "not-a-uuid", webhook_id: "msg_short" }));
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })();
    expect(message).toMatch(
      /^invalid delivery job: delivery_id: [^;]+; webhook_id: [^;]+; subscription_id: /,
    );
  });
});
