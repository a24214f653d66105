/**
 * Pure domain rules whose results a customer sees directly: what an erasure by resource removes,
 * where an activeflow's own `webhook_uri` receives its events, and the dates the operational
 * warnings carry. Written for the mutation run over shared/ (docs/benchmarks.md, "Mutation testing").
 */
import { describe, expect, it } from "vitest";
import { dataNamesResource, dataOfBody, emptyErasureCounts } from "#shared/domain/erasure/erasure.ts";
import { autoDisableAt, failingSeconds, warningSubjectOf } from "#shared/domain/events/operational.ts";
import {
  activeflowDestinationId,
  activeflowIdOf,
  activeflowTargetOf,
  isActiveflowEvent,
  parseActiveflowVersion,
} from "#shared/domain/subscriptions/activeflow.ts";

const FLOW = "3f8a1c52-7d4e-4b9a-8c1d-2e5f6a7b8c9d";

describe("erasure by resource", () => {
  it("erases an event whose data.id or data.activeflow_id is the resource, nothing else", () => {
    expect(dataNamesResource({ id: "r1" }, "r1")).toBe(true);
    expect(dataNamesResource({ activeflow_id: "r1", id: "x" }, "r1")).toBe(true);
    expect(dataNamesResource({ id: "r2", call_id: "r1" }, "r1")).toBe(false);
    expect(dataNamesResource({}, "r1")).toBe(false);
    expect(dataNamesResource(null, "r1")).toBe(false);
    expect(dataNamesResource(["r1"], "r1")).toBe(false);
    expect(dataNamesResource("r1", "r1")).toBe(false);
    // An inherited field is not the event's: a prototype naming the resource does not count.
    expect(dataNamesResource(Object.create({ id: "r1" }), "r1")).toBe(false);
  });

  it("reads the data of a VoIPBIN envelope and never guesses at another body", () => {
    expect(dataOfBody('{"type":"call_created","data":{"id":"r1"}}')).toEqual({ id: "r1" });
    expect(dataOfBody('{"type":"call_created"}')).toBeUndefined();
    expect(dataOfBody("null")).toBeUndefined();
    expect(dataOfBody('"text"')).toBeUndefined();
    expect(dataOfBody("not json")).toBeUndefined();
  });

  it("starts every count of a dry run's answer at zero", () => {
    expect(emptyErasureCounts()).toEqual({
      subscriptions: 0,
      deliveries: 0,
      attempts: 0,
      payloads: 0,
      shadow: 0,
      activeflowDestinations: 0,
      credentials: 0,
      other: 0,
      queueMessages: 0,
    });
  });
});

describe("activeflow destinations", () => {
  it("recognises the flow-manager's three activeflow events only", () => {
    expect(isActiveflowEvent("voipbin.flow-manager", "activeflow_created")).toBe(true);
    expect(isActiveflowEvent("voipbin.flow-manager", "activeflow_updated")).toBe(true);
    expect(isActiveflowEvent("voipbin.flow-manager", "activeflow_deleted")).toBe(true);
    expect(isActiveflowEvent("voipbin.flow-manager", "call_created")).toBe(false);
    expect(isActiveflowEvent("voipbin.call-manager", "activeflow_created")).toBe(false);
  });

  it("delivers to an http(s) webhook_uri with VoIPBIN's method, an empty method meaning GET", () => {
    expect(activeflowTargetOf("https://h.example/x", "POST")).toEqual({
      url: "https://h.example/x",
      method: "POST",
    });
    expect(activeflowTargetOf("http://h.example/x", "")).toEqual({
      url: "http://h.example/x",
      method: "GET",
    });
    expect(activeflowTargetOf("http://h.example/x", undefined)).toEqual({
      url: "http://h.example/x",
      method: "GET",
    });
    expect(activeflowTargetOf("http://h.example/x", null)).toEqual({
      url: "http://h.example/x",
      method: "GET",
    });
  });

  it("has no destination for a URI it cannot deliver to", () => {
    for (const [uri, method] of [
      ["", "POST"],
      [42, "POST"],
      ["https://h.example/a b", "POST"],
      ["https://h.example/\tx", "POST"],
      ["not a url", "POST"],
      ["ftp://h.example/x", "POST"],
      ["file:///etc/passwd", "POST"],
      ["https://h.example/x", "PATCH"],
      [`https://h.example/${"x".repeat(2048)}`, "POST"],
    ] as const) {
      expect(activeflowTargetOf(uri, method), String(uri).slice(0, 40)).toBeNull();
    }
    expect(activeflowTargetOf(`https://h.example/${"x".repeat(2048 - 18)}`, "POST")).not.toBeNull();
  });

  it("takes an event's version from tm_delete, then tm_update, then tm_create", () => {
    const data = {
      id: FLOW.toUpperCase(),
      tm_create: "2026-01-01 00:00:00.000001",
      tm_update: "2026-01-02 00:00:00.000002",
      webhook_uri: "https://h.example/flow",
      webhook_method: "POST",
    };
    expect(parseActiveflowVersion("activeflow_updated", data)).toEqual({
      activeflowId: FLOW,
      version: "2026-01-02T00:00:00.000002000Z",
      target: { url: "https://h.example/flow", method: "POST" },
    });
    expect(parseActiveflowVersion("activeflow_created", { ...data, tm_update: null })).toMatchObject({
      version: "2026-01-01T00:00:00.000001000Z",
    });
    // A deletion time wins and ends the destination, whatever the event's type.
    expect(
      parseActiveflowVersion("activeflow_updated", { ...data, tm_delete: "2026-01-03 00:00:00.000003" }),
    ).toEqual({ activeflowId: FLOW, version: "2026-01-03T00:00:00.000003000Z", target: null });
    expect(parseActiveflowVersion("activeflow_deleted", data)).toMatchObject({ target: null });
  });

  it("changes no destination for an event without a UUID id or any time", () => {
    expect(
      parseActiveflowVersion("activeflow_created", { id: "nope", tm_create: "2026-01-01 00:00:00" }),
    ).toBeNull();
    expect(
      parseActiveflowVersion("activeflow_created", { id: 7, tm_create: "2026-01-01 00:00:00" }),
    ).toBeNull();
    expect(
      parseActiveflowVersion("activeflow_created", { id: `${FLOW}x`, tm_create: "2026-01-01 00:00:00" }),
    ).toBeNull();
    expect(parseActiveflowVersion("activeflow_created", { id: FLOW })).toBeNull();
  });

  it("names each activeflow's destination by a stable id, whatever the case of the activeflow id", () => {
    const id = activeflowDestinationId(FLOW);
    // The subscription_id of stored deliveries: a change would split one destination's history in two.
    expect(id).toBe("35995552-98c1-89ea-ba09-56220e6d442a");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(activeflowDestinationId(FLOW.toUpperCase())).toBe(id);
    expect(activeflowDestinationId("4f8a1c52-7d4e-4b9a-8c1d-2e5f6a7b8c9d")).not.toBe(id);
  });

  it("routes an event to the activeflow its data.activeflow_id names, never the nil UUID", () => {
    expect(activeflowIdOf({ activeflow_id: FLOW.toUpperCase() })).toBe(FLOW);
    expect(activeflowIdOf({ activeflow_id: "00000000-0000-0000-0000-000000000000" })).toBeNull();
    expect(activeflowIdOf({ activeflow_id: "x" })).toBeNull();
    expect(activeflowIdOf({ activeflow_id: ` ${FLOW}` })).toBeNull();
    expect(activeflowIdOf({ activeflow_id: `${FLOW} ` })).toBeNull();
    expect(activeflowIdOf({ id: FLOW })).toBeNull();
  });
});

describe("operational warnings", () => {
  it("says when a failing endpoint's subscription will be disabled", () => {
    expect(autoDisableAt("2026-12-01T00:00:00.000Z", 3 * 86_400)).toBe("2026-12-04T00:00:00.000Z");
    expect(autoDisableAt("2026-12-01T00:00:00.500Z", 1)).toBe("2026-12-01T00:00:01.500Z");
  });

  it("says for how many whole seconds a recovered endpoint was failing, never negative", () => {
    expect(failingSeconds("2026-12-01T00:00:00.000Z", "2026-12-01T00:01:00.400Z")).toBe(60);
    expect(failingSeconds("2026-12-01T00:00:00.000Z", "2026-12-01T00:01:00.600Z")).toBe(61);
    expect(failingSeconds("2026-12-01T00:01:00.000Z", "2026-12-01T00:00:00.000Z")).toBe(0);
  });

  it("keeps a warning from the subscription it is about, and only warnings", () => {
    for (const type of [
      "webhook_endpoint_failing",
      "webhook_delivery_exhausted",
      "webhook_endpoint_recovered",
    ]) {
      expect(warningSubjectOf(type, { subscription_id: "s1" }), type).toBe("s1");
      expect(warningSubjectOf(type, { subscription_id: 1 }), type).toBeNull();
    }
    expect(warningSubjectOf("webhook_subscription_disabled", { subscription_id: "s1" })).toBeNull();
    expect(warningSubjectOf("call_created", { subscription_id: "s1" })).toBeNull();
  });
});
