/**
 * VoIPBIN's customer-manager control events as an operator meets them: the problems an invalid
 * event is parked with (the unroutable record lists every one, `CONTROL_EVENT_INVALID`), and what a
 * valid one does to the customer's managed subscription. Written for the mutation run over shared/
 * (docs/benchmarks.md, "Mutation testing"); test/unit/managed-subscriptions.test.ts has the rest.
 */
import { describe, expect, it } from "vitest";
import {
  InvalidCustomerControlError,
  isCustomerControlEvent,
  managedSubscriptionId,
  normalizeTmUpdate,
  parseCustomerVersion,
} from "#shared/domain/subscriptions/managed.ts";

const ID = "5e4a0680-804e-11ec-8477-2fea5968d85b";
const B64URL = "q3Jx-9_Zt0aVbM2kLp8sWn4eYc1HfR6u";
const TM = "2026-01-01 00:00:00.000001";
const valid = { id: ID, tm_update: TM, webhook_uri: "https://a.example/hook", webhook_secret: B64URL };

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCustomerControlError);
    const invalid = error as InvalidCustomerControlError;
    expect(invalid.code).toBe("CONTROL_EVENT_INVALID");
    expect(invalid.name).toBe("InvalidCustomerControlError");
    expect(invalid.message).toBe(invalid.problems.join("; "));
    return invalid.problems;
  }
  throw new Error("expected the version to be refused");
}

// Equivalent mutants a mutation run reports in managed.ts: isCustomerControlEvent's `typeof type ===
// "string"` forced true (includes() of a non-string is false anyway); the zone upper-cased or
// lower-cased for Date.parse (it reads `z` as `Z`); `typeof id === "string"` and the customer-id
// check's first operand (UUID.test of a non-string converts it to a string that is no UUID); the
// "utf8" of the imported secret emptied (Buffer's default); the secret check forced true when the
// secret is null (a text() problem is listed already and nothing is returned).
describe("customer control events", () => {
  it("are the customer-manager's three customer events only", () => {
    expect(isCustomerControlEvent("voipbin.customer-manager", "customer_updated")).toBe(true);
    expect(isCustomerControlEvent("voipbin.customer-manager", "customer_created")).toBe(true);
    expect(isCustomerControlEvent("voipbin.customer-manager", "customer_deleted")).toBe(true);
    expect(isCustomerControlEvent("voipbin.customer-manager", "customer_renamed")).toBe(false);
    expect(isCustomerControlEvent("voipbin.customer-manager", 1)).toBe(false);
    expect(isCustomerControlEvent("voipbin.flow-manager", "customer_updated")).toBe(false);
  });

  it("lists each problem of a version in the order the fields are read", () => {
    expect(
      problemsOf(() =>
        parseCustomerVersion(
          "customer_created",
          {
            id: 7,
            tm_update: "yesterday",
            webhook_uri: "mailto:x@y",
            webhook_method: "post",
            webhook_secret: "short",
          },
          "not-a-uuid",
        ),
      ),
    ).toEqual([
      "data.id: must be a UUID",
      "detail.customer_id: must be a UUID",
      "data.tm_update: must be an RFC 3339 time (or VoIPBIN's `YYYY-MM-DD HH:MM:SS.ffffff`)",
      "data.webhook_uri: only http:// and https:// URLs are delivered",
      'data.webhook_method: must be "", POST, PUT, GET or DELETE',
      "data.webhook_secret: must be 32 base64url characters or 64 hexadecimal characters",
    ]);
    expect(
      problemsOf(() =>
        parseCustomerVersion("customer_created", { ...valid, webhook_uri: 5, webhook_method: [] }),
      ),
    ).toEqual(["data.webhook_uri: must be a string", "data.webhook_method: must be a string"]);
    expect(
      problemsOf(() => parseCustomerVersion("customer_created", { ...valid, webhook_secret: undefined })),
    ).toEqual(["data.webhook_secret: missing (a customer with a webhook_uri has a signing secret)"]);
    expect(
      problemsOf(() => parseCustomerVersion("customer_created", { ...valid, webhook_secret: null })),
    ).toEqual(["data.webhook_secret: missing (a customer with a webhook_uri has a signing secret)"]);
  });

  it("refuses what is not a customer object", () => {
    for (const data of [null, [valid], "customer", 3]) {
      expect(problemsOf(() => parseCustomerVersion("customer_updated", data))).toEqual([
        "data: must be the customer object",
      ]);
    }
  });

  it("names what is wrong with a webhook_uri", () => {
    const uriProblem = (webhook_uri: string) =>
      problemsOf(() => parseCustomerVersion("customer_updated", { ...valid, webhook_uri }));
    expect(uriProblem(`https://a.example/${"x".repeat(2048)}`)).toEqual([
      "data.webhook_uri: longer than 2048 characters",
    ]);
    expect(uriProblem("https://a.example/a b")).toEqual(["data.webhook_uri: contains whitespace"]);
    expect(uriProblem("/relative/path")).toEqual(["data.webhook_uri: is not an absolute URL"]);
    expect(uriProblem("ftp://a.example/x")).toEqual([
      "data.webhook_uri: only http:// and https:// URLs are delivered",
    ]);
    expect(
      parseCustomerVersion("customer_updated", {
        ...valid,
        webhook_uri: `https://a.example/${"x".repeat(2048 - 18)}`,
      }),
    ).toMatchObject({ kind: "upsert" });
    expect(
      parseCustomerVersion("customer_updated", { ...valid, webhook_uri: "http://a.example/x" }),
    ).toMatchObject({
      kind: "upsert",
      url: "http://a.example/x",
    });
  });

  it("upserts the managed subscription with the version, URL, method and imported secret", () => {
    expect(
      parseCustomerVersion("customer_updated", { ...valid, id: ID.toUpperCase(), webhook_method: "PUT" }, ID),
    ).toEqual({
      kind: "upsert",
      customerId: ID,
      version: "2026-01-01T00:00:00.000001000Z",
      url: "https://a.example/hook",
      method: "PUT",
      secret: `whsec_${Buffer.from(B64URL, "utf8").toString("base64")}`,
    });
  });

  it("removes it on customer_deleted (even with only tm_delete) or an empty webhook_uri, whatever else is wrong", () => {
    expect(
      parseCustomerVersion("customer_deleted", {
        id: ID,
        tm_delete: TM,
        webhook_uri: "mailto:x",
        webhook_secret: "x",
      }),
    ).toEqual({
      kind: "remove",
      customerId: ID,
      version: "2026-01-01T00:00:00.000001000Z",
    });
    expect(
      parseCustomerVersion("customer_updated", { id: ID, tm_update: TM, webhook_method: "nope" }),
    ).toEqual({
      kind: "remove",
      customerId: ID,
      version: "2026-01-01T00:00:00.000001000Z",
    });
    // Only a deletion may be versioned by tm_delete.
    expect(
      problemsOf(() =>
        parseCustomerVersion("customer_updated", { ...valid, tm_update: undefined, tm_delete: TM }),
      ),
    ).toEqual(["data.tm_update: must be an RFC 3339 time (or VoIPBIN's `YYYY-MM-DD HH:MM:SS.ffffff`)"]);
  });

  it("orders versions by time, refusing what is not a real calendar time", () => {
    expect(normalizeTmUpdate(" 2026-01-01T00:00:00Z ")).toBe("2026-01-01T00:00:00.000000000Z");
    expect(normalizeTmUpdate("2026-01-01T02:00:00.5+02:00")).toBe("2026-01-01T00:00:00.500000000Z");
    expect(normalizeTmUpdate("2026-02-30 00:00:00.000000")).toBeNull();
    expect(normalizeTmUpdate("2026-02-30T00:00:00Z")).toBeNull();
    expect(normalizeTmUpdate("2026-13-01T00:00:00Z")).toBeNull();
    expect(normalizeTmUpdate("2026-13-01T00:00:00+01:00")).toBeNull();
    expect(normalizeTmUpdate(20260101)).toBeNull();
  });

  it("gives a customer's managed subscription one id, whatever the case of the customer id", () => {
    // Stored ids: a change to the derivation would orphan every existing managed subscription.
    expect(managedSubscriptionId(ID)).toBe("673389b4-1bfa-8b9b-89ec-56e2399abd81");
    expect(managedSubscriptionId(ID.toUpperCase())).toBe(managedSubscriptionId(ID));
    expect(managedSubscriptionId(ID)).not.toBe(managedSubscriptionId("6e4a0680-804e-11ec-8477-2fea5968d85b"));
  });
});
