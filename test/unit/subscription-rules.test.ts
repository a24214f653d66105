/**
 * The subscription rules a customer meets through the API, checked on the domain's own schemas and
 * functions: what a create or update body is refused for (the 400's problems, each with its path),
 * which events a subscription receives, which secrets sign a delivery, and what an API answer shows
 * of a subscription. Written for the mutation run over shared/ (docs/benchmarks.md, "Mutation
 * testing"): the API integration tests cover the same rules end to end, too slowly to run per mutant.
 */
import { describe, expect, it } from "vitest";
import {
  newSubscription,
  publicSubscription,
  signingSecrets,
  subscriptionMatches,
} from "#shared/domain/subscriptions/subscription.ts";
import {
  createSubscriptionSchema,
  isReservedHeaderName,
  updateSubscriptionSchema,
} from "#shared/domain/subscriptions/validation.ts";

interface Issue {
  readonly path: PropertyKey[];
  readonly message: string;
  readonly code?: string;
  readonly issues?: readonly Issue[];
}
/** The problems as the API's 400 lists them (shared/api/app.ts: a record key's own reasons). */
const problems = (result: { error?: { issues: readonly Issue[] } }) =>
  (result.error?.issues ?? []).map(
    (issue) =>
      `${issue.path.join(".")}: ${issue.code === "invalid_key" && issue.issues?.length ? issue.issues.map((i) => i.message).join("; ") : issue.message}`,
  );

const body = { url: "https://example.com/hook", event_types: ["call_hangup"] };

describe("a subscription's create and update bodies", () => {
  it("fills the defaults and drops duplicate event types, keeping the caller's order", () => {
    const parsed = createSubscriptionSchema.parse({
      ...body,
      event_types: ["call_*", "call_hangup", "call_*"],
    });
    expect(parsed).toEqual({
      url: "https://example.com/hook",
      method: "POST",
      event_types: ["call_*", "call_hangup"],
      status: "enabled",
    });
  });

  it("accepts a type an operator could add at run time, and refuses what no catalogue could hold", () => {
    expect(createSubscriptionSchema.safeParse({ ...body, event_types: ["gizmo_created"] }).success).toBe(
      true,
    );
    expect(problems(createSubscriptionSchema.safeParse({ ...body, event_types: ["Not A Type!"] }))).toEqual([
      "event_types.0: is not a catalogue event type, a `<resource>_*` wildcard of a catalogue resource, or `*`",
    ]);
  });

  it("stores custom header names lower-case and refuses reserved, duplicated or too many headers", () => {
    expect(createSubscriptionSchema.parse({ ...body, headers: { "X-Customer-Token": "t" } }).headers).toEqual(
      { "x-customer-token": "t" },
    );
    expect(
      problems(
        createSubscriptionSchema.safeParse({
          ...body,
          headers: { "Content-Type": "a", "Webhook-Id": "b", "X-VoIPBIN-x": "c", "proxy-authorization": "d" },
        }),
      ),
    ).toEqual([
      "headers.Content-Type: is a reserved header name",
      "headers.Webhook-Id: is a reserved header name",
      "headers.X-VoIPBIN-x: is a reserved header name",
      "headers.proxy-authorization: is a reserved header name",
    ]);
    expect(
      problems(createSubscriptionSchema.safeParse({ ...body, headers: { "X-A": "1", "x-a": "2" } })),
    ).toEqual(["headers.x-a: is given twice (header names are case-insensitive)"]);
    const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`x-h${i}`, "v"]));
    expect(createSubscriptionSchema.safeParse({ ...body, headers: ten }).success).toBe(true);
    expect(
      problems(createSubscriptionSchema.safeParse({ ...body, headers: { ...ten, "x-h10": "v" } })),
    ).toEqual(["headers: at most 10 custom headers"]);
  });

  it("reserves the framing and signature headers by name and by prefix only", () => {
    expect(isReservedHeaderName("HOST")).toBe(true);
    expect(isReservedHeaderName("webhook-signature")).toBe(true);
    expect(isReservedHeaderName("x-webhook-signature")).toBe(false);
    expect(isReservedHeaderName("my-proxy-")).toBe(false);
    expect(isReservedHeaderName("x-hosted-by")).toBe(false);
  });

  it("refuses an update that changes nothing, and lets null clear a field", () => {
    expect(problems(updateSubscriptionSchema.safeParse({}))).toEqual([": must change at least one field"]);
    expect(problems(updateSubscriptionSchema.safeParse({ description: undefined }))).toEqual([
      ": must change at least one field",
    ]);
    expect(updateSubscriptionSchema.parse({ description: null })).toEqual({ description: null });
    expect(updateSubscriptionSchema.parse({ status: "disabled" })).toEqual({ status: "disabled" });
  });
});

describe("which events a subscription receives", () => {
  const subscription = {
    status: "enabled" as const,
    activeflow_id: null,
    event_types: ["*"],
  };

  it("keeps the service's own webhook_* events from a legacy-profile subscription only", () => {
    expect(
      subscriptionMatches({ ...subscription, delivery_profile: "legacy" }, "webhook_endpoint_failing", {}),
    ).toBe(false);
    expect(subscriptionMatches({ ...subscription, delivery_profile: "legacy" }, "call_hangup", {})).toBe(
      true,
    );
    expect(
      subscriptionMatches({ ...subscription, delivery_profile: "standard" }, "webhook_endpoint_failing", {}),
    ).toBe(true);
    expect(subscriptionMatches(subscription, "webhook_endpoint_failing", {})).toBe(true);
  });

  it("delivers nothing to a disabled subscription", () => {
    expect(subscriptionMatches({ ...subscription, status: "disabled" }, "call_hangup", {})).toBe(false);
  });
});

describe("a subscription's secrets and its public form", () => {
  const secrets = {
    secret: "whsec_new",
    previous_secret: "whsec_old",
    previous_secret_expires_at: "2026-12-01T00:00:00.000Z",
  };

  it("signs with the previous secret too until its overlap ends, strictly before the end", () => {
    expect(signingSecrets(secrets, new Date("2026-11-30T23:59:59.999Z"))).toEqual(["whsec_new", "whsec_old"]);
    expect(signingSecrets(secrets, new Date("2026-12-01T00:00:00.000Z"))).toEqual(["whsec_new"]);
    expect(signingSecrets({ ...secrets, previous_secret: null }, new Date(0))).toEqual(["whsec_new"]);
    expect(signingSecrets({ ...secrets, previous_secret_expires_at: null }, new Date(0))).toEqual([
      "whsec_new",
    ]);
  });

  it("creates an enabled subscription for every event, and publishes it without its secrets", () => {
    const now = new Date("2026-12-01T00:00:00.000Z");
    const created = newSubscription({ customer_id: "c1", url: "https://example.com/hook" }, now);
    expect(created).toMatchObject({
      method: "POST",
      event_types: ["*"],
      status: "enabled",
      created_at: now.toISOString(),
      previous_secret: null,
    });
    expect(created.secret).toMatch(/^whsec_/);
    const shown = publicSubscription(created);
    expect(shown).not.toHaveProperty("secret");
    expect(shown).not.toHaveProperty("failing_since");
    expect(shown).toMatchObject({
      managed: false,
      managed_by: null,
      delivery_profile: "standard",
      filter: null,
    });
    expect(
      publicSubscription({ ...created, managed_by: "voipbin", delivery_profile: "legacy", filter: { a: 1 } }),
    ).toMatchObject({ managed: true, managed_by: "voipbin", delivery_profile: "legacy", filter: { a: 1 } });
  });
});
