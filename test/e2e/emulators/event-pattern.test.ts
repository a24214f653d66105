import { describe, expect, it } from "vitest";
import { eventRulePattern, routerRules } from "#shared/domain/events/catalogue.ts";
import {
  compileEventPattern,
  InvalidEventPatternError,
  UnsupportedEventPatternError,
} from "../../../local/event-pattern.ts";

const event = {
  version: "0",
  id: "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "call_hangup",
  source: "voipbin.call-manager",
  account: "000000000000",
  time: "2026-11-20T09:17:41Z",
  region: "us-east-1",
  resources: ["arn:aws:ec2:us-east-1:000000000000:instance/i-1"],
  detail: {
    customer_id: "5e4a0680-804e-11ec-8477-2fea5968d85b",
    data: { status: "hangup", duration: 157, tags: ["vip", "eu"], ip: "10.0.3.7", empty: null },
  },
};

const matches = (pattern: unknown, e: unknown = event) => compileEventPattern(pattern)(e);

describe("EventBridge event patterns", () => {
  it("applies the rule pattern the CDK stack uses: sources starting with voipbin.", () => {
    expect(matches(eventRulePattern())).toBe(true);
    expect(matches(eventRulePattern(), { ...event, source: "voipbin.webhooks" })).toBe(true);
    expect(matches(eventRulePattern(), { ...event, source: "aws.ec2" })).toBe(false);
    expect(matches(eventRulePattern(), { ...event, source: "voipbinx.call" })).toBe(false);
    expect(matches(JSON.stringify(eventRulePattern()))).toBe(true);
  });

  it("matches exact values, any of a list, nested fields and array elements", () => {
    expect(matches({ "detail-type": ["call_created", "call_hangup"] })).toBe(true);
    expect(matches({ "detail-type": ["call_created"] })).toBe(false);
    expect(matches({ detail: { data: { status: ["hangup"], duration: [157] } } })).toBe(true);
    expect(matches({ detail: { data: { tags: ["eu"] } } })).toBe(true);
    expect(matches({ detail: { data: { empty: [null] } } })).toBe(true);
    expect(matches({ detail: { data: { missing: ["x"] } } })).toBe(false);
    // Every field of the pattern must match.
    expect(matches({ source: ["voipbin.call-manager"], "detail-type": ["call_created"] })).toBe(false);
  });

  it("supports the filters the rules use: prefix, wildcard, numeric, exists and anything-but a wildcard", () => {
    expect(matches({ source: [{ prefix: "voipbin." }] })).toBe(true);
    expect(matches({ source: [{ prefix: "aws." }] })).toBe(false);
    expect(matches({ source: [{ wildcard: "voipbin.*-manager" }] })).toBe(true);
    expect(matches({ source: [{ wildcard: "voipbin.*-service" }] })).toBe(false);
    expect(matches({ detail: { data: { duration: [{ numeric: [">", 100, "<=", 157] }] } } })).toBe(true);
    expect(matches({ detail: { data: { duration: [{ numeric: ["<", 100] }] } } })).toBe(false);
    expect(matches({ detail: { data: { missing: [{ exists: false }] } } })).toBe(true);
    expect(matches({ detail: { data: { status: [{ exists: false }] } } })).toBe(false);
    expect(matches({ detail: { customer_id: [{ "anything-but": { wildcard: "*-*-*-*-*" } }] } })).toBe(false);
    expect(matches({ detail: { data: { status: [{ "anything-but": { wildcard: "ans*" } }] } } })).toBe(true);
    // anything-but needs the field to be there.
    expect(matches({ detail: { data: { missing: [{ "anything-but": { wildcard: "x*" } }] } } })).toBe(false);
  });

  it("compiles every rule this stack defines", () => {
    for (const rule of routerRules())
      expect(() => compileEventPattern(rule.eventPattern), rule.id).not.toThrow();
  });

  it("refuses by name the filters no rule uses, instead of matching differently from AWS", () => {
    for (const [pattern, filter] of [
      [{ "detail-type": [{ suffix: "_hangup" }] }, "suffix"],
      [{ "detail-type": [{ "equals-ignore-case": "CALL_HANGUP" }] }, "equals-ignore-case"],
      [{ detail: { data: { ip: [{ cidr: "10.0.0.0/16" }] } } }, "cidr"],
      [{ $or: [{ source: ["aws.ec2"] }, { "detail-type": ["call_hangup"] }] }, "$or"],
      [{ source: [{ prefix: { "equals-ignore-case": "VOIPBIN." } }] }, "prefix"],
      [
        { detail: { data: { status: [{ "anything-but": ["answered", "ringing"] }] } } },
        "anything-but with values",
      ],
      [{ detail: { data: { status: [{ "anything-but": { prefix: "hang" } }] } } }, "anything-but prefix"],
    ] as const) {
      expect(() => compileEventPattern(pattern), filter).toThrow(UnsupportedEventPatternError);
      expect(() => compileEventPattern(pattern), filter).toThrow(filter);
    }
  });

  it("rejects what EventBridge rejects, at compile time", () => {
    for (const bad of [
      [],
      "not json",
      { source: "voipbin.call-manager" },
      { source: [] },
      { source: [{ prefix: "" }] },
      { source: [{ unknownFilter: "x" }] },
      { source: [{ prefix: "a", suffix: "b" }] },
      { detail: { n: [{ numeric: [">"] }] } },
    ]) {
      expect(() => compileEventPattern(bad), JSON.stringify(bad)).toThrow(InvalidEventPatternError);
    }
  });
});
