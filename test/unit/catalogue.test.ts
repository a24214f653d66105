import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EVENT_DESCRIPTIONS } from "#shared/domain/events/descriptions.ts";
import {
  CUSTOMER_FACING_SOURCE_PREFIX,
  EVENT_CATALOGUE,
  EVENT_TYPES,
  eventRulePattern,
  isEventType,
  isValidEventTypePattern,
  patternMatches,
  RESOURCES,
  resourceOf,
  typesOfResource,
} from "../../shared/domain/events/catalogue.ts";
import { FIXTURES_DIR } from "../support/fixtures.ts";

interface FixtureCatalogue {
  resources: Record<string, string[]>;
}

const fixturePath = path.join(FIXTURES_DIR, "voipbin-event-types.json");
const fixture = JSON.parse(readFileSync(fixturePath, "utf8")) as FixtureCatalogue;

const OWN_TYPES = {
  webhook: [
    "webhook_test",
    "webhook_subscription_disabled",
    "webhook_endpoint_failing",
    "webhook_delivery_exhausted",
    "webhook_endpoint_recovered",
  ],
};

function groupedCatalogue(): Record<string, string[]> {
  const grouped: Record<string, string[]> = {};
  for (const entry of EVENT_CATALOGUE) {
    grouped[entry.resource] ??= [];
    grouped[entry.resource]?.push(entry.type);
  }
  return grouped;
}

describe("catalogue contents", () => {
  it("is exactly the VoIPBIN fixture (same types, same resources, same order) plus our five types", () => {
    expect(groupedCatalogue()).toEqual({ ...fixture.resources, ...OWN_TYPES });
    expect(Object.values(fixture.resources).flat()).toHaveLength(95);
    expect(Object.keys(fixture.resources)).toHaveLength(17);
    expect(EVENT_CATALOGUE).toHaveLength(100);
    expect(RESOURCES).toEqual([...Object.keys(fixture.resources), "webhook"]);
  });

  it("has unique types", () => {
    expect(EVENT_TYPES.size).toBe(EVENT_CATALOGUE.length);
  });

  it("has a non-empty, unique, one-line description for every type", () => {
    const descriptions = EVENT_CATALOGUE.map((entry) => EVENT_DESCRIPTIONS[entry.type]);
    expect(Object.keys(EVENT_DESCRIPTIONS)).toEqual(EVENT_CATALOGUE.map((entry) => entry.type));
    for (const description of descriptions) {
      expect(description.trim().length).toBeGreaterThan(10);
      expect(description).not.toMatch(/\n/);
    }
    expect(new Set(descriptions).size).toBe(descriptions.length);
  });

  it("looks up types and resources", () => {
    expect(isEventType("call_hangup")).toBe(true);
    expect(isEventType("webhook_test")).toBe(true);
    expect(isEventType("queue_created")).toBe(false);
    expect(isEventType("")).toBe(false);
    expect(resourceOf("summary_created")).toBe("ai");
    expect(resourceOf("account_deleted")).toBe("conversation");
    expect(resourceOf("webhook_subscription_disabled")).toBe("webhook");
    expect(resourceOf("nope")).toBeUndefined();
    expect(typesOfResource("recording")).toEqual(["recording_started", "recording_finished"]);
    expect(typesOfResource("webhook")).toEqual(OWN_TYPES.webhook);
    expect(typesOfResource("nope")).toEqual([]);
  });
});

describe("subscription patterns", () => {
  it("accepts exact types, catalogue-resource wildcards and *", () => {
    for (const entry of EVENT_CATALOGUE) expect(isValidEventTypePattern(entry.type)).toBe(true);
    for (const resource of RESOURCES) expect(isValidEventTypePattern(`${resource}_*`)).toBe(true);
    expect(isValidEventTypePattern("*")).toBe(true);
  });

  it.each([
    "call*",
    "nope_*",
    "call_created_",
    "",
    "**",
    "_*",
    "call_",
    "Call_*",
    "call_hangup ",
    "aicall_*", // a name prefix, not a catalogue resource
    "summary_*",
    "*_*",
  ])("rejects %j", (pattern) => {
    expect(isValidEventTypePattern(pattern)).toBe(false);
  });

  it("matches a wildcard against every type of the resource as grouped in the catalogue", () => {
    expect(patternMatches("ai_*", "aicall_status_progressing")).toBe(true);
    expect(patternMatches("ai_*", "summary_created")).toBe(true);
    expect(patternMatches("ai_*", "team_deleted")).toBe(true);
    expect(patternMatches("conversation_*", "account_created")).toBe(true);
    expect(patternMatches("campaign_*", "campaigncall_created")).toBe(true);
    expect(patternMatches("transcribe_*", "transcript_created")).toBe(true);
    expect(patternMatches("talk_*", "chatmessage_reaction_updated")).toBe(true);
    expect(patternMatches("webhook_*", "webhook_subscription_disabled")).toBe(true);
  });

  it("does not match by name prefix across resources", () => {
    // "call_*" must not pick up groupcall_, queuecall_ or campaigncall_ types, nor aicall_ ones.
    expect(patternMatches("call_*", "queuecall_done")).toBe(false);
    expect(patternMatches("call_*", "aicall_status_progressing")).toBe(false);
    expect(patternMatches("chat_*", "chat_created")).toBe(false); // chat is a type prefix, talk the resource
    expect(patternMatches("conversation_*", "message_created")).toBe(false);
  });

  it("agrees with the catalogue for every pattern/type pair", () => {
    for (const entry of EVENT_CATALOGUE) {
      for (const resource of RESOURCES) {
        expect(patternMatches(`${resource}_*`, entry.type)).toBe(entry.resource === resource);
      }
      for (const other of EVENT_CATALOGUE) {
        expect(patternMatches(other.type, entry.type)).toBe(other.type === entry.type);
      }
      expect(patternMatches("*", entry.type)).toBe(true);
    }
  });

  it("matches nothing outside the catalogue and nothing with invalid patterns", () => {
    expect(patternMatches("*", "queue_created")).toBe(false);
    expect(patternMatches("queue_created", "queue_created")).toBe(false);
    expect(patternMatches("call*", "call_created")).toBe(false);
    expect(patternMatches("nope_*", "nope_created")).toBe(false);
    expect(patternMatches("", "")).toBe(false);
  });
});

describe("EventBridge rule pattern", () => {
  it("selects every voipbin.* source, ours included, and leaves judging types to the router", () => {
    const pattern = eventRulePattern();
    expect(CUSTOMER_FACING_SOURCE_PREFIX).toBe("voipbin.");
    expect(pattern).toEqual({ source: [{ prefix: "voipbin." }] });
    expect("voipbin.webhooks".startsWith(pattern.source[0].prefix)).toBe(true);
  });
});

describe("patterns a mutation run over shared/ found unguarded", () => {
  // Equivalent mutants: `pattern.length >= 2` for `> 2` in wildcardResource ("_*" names resource "",
  // which is no resource), and the `resource !== undefined` guards (no resource is undefined).
  it("takes only `<resource>_*` as a wildcard, not a resource name with two characters after it", () => {
    expect(isValidEventTypePattern("call_*")).toBe(true);
    expect(isValidEventTypePattern("callxx")).toBe(false);
    expect(patternMatches("callxx", "call_hangup")).toBe(false);
    expect(patternMatches("call_*", "call_hangup")).toBe(true);
  });
});
