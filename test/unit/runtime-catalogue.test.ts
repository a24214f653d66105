import { describe, expect, it } from "vitest";
import { UnroutableEventError } from "#shared/domain/errors.ts";
import {
  type AddedEventType,
  addedEventTypeProblems,
  couldBeAddedPattern,
  EventCatalogue,
} from "#shared/domain/events/runtime-catalogue.ts";
import { parseRoutableEvent } from "#shared/domain/events/schemas.ts";
import {
  CATALOGUE_HIT_TTL_MS,
  CATALOGUE_MISS_REFRESH_MS,
  CachedEventCatalogue,
} from "#shared/services/event-catalogue.ts";

const added = (type: string, resource: string): AddedEventType => ({
  type,
  resource,
  description: "d",
  added_at: "2026-12-07T00:00:00.000Z",
});

describe("EventCatalogue: built-in plus added types", () => {
  const catalogue = new EventCatalogue([added("call_transferred", "call"), added("fax_received", "fax")]);

  it("routes an added type to *, its resource's wildcard and its exact name only", () => {
    expect(catalogue.has("call_transferred")).toBe(true);
    expect(catalogue.matches("*", "call_transferred")).toBe(true);
    expect(catalogue.matches("call_*", "call_transferred")).toBe(true);
    expect(catalogue.matches("call_transferred", "call_transferred")).toBe(true);
    expect(catalogue.matches("message_*", "call_transferred")).toBe(false);
    expect(catalogue.matches("fax_*", "fax_received")).toBe(true);
    expect(catalogue.matches("call_*", "fax_received")).toBe(false);
  });

  it("leaves built-in and unknown types as they were", () => {
    expect(catalogue.matches("call_*", "call_hangup")).toBe(true);
    expect(catalogue.matches("*", "unknown_thing")).toBe(false);
    expect(catalogue.has("unknown_thing")).toBe(false);
    expect(catalogue.isValidPattern("fax_*")).toBe(true);
    expect(catalogue.isValidPattern("nothing_*")).toBe(false);
    expect(
      catalogue
        .list()
        .filter((entry) => entry.added)
        .map((entry) => entry.type),
    ).toEqual(["call_transferred", "fax_received"]);
  });

  it("makes an added type routable for the router's parser, and only with it", () => {
    const event = {
      version: "0",
      id: "e1",
      "detail-type": "call_transferred",
      source: "voipbin.call-manager",
      account: "1",
      time: "2026-12-07T00:00:00Z",
      region: "us-east-1",
      resources: [],
      detail: { customer_id: "5e4a0680-804e-11ec-8477-2fea5968d85b", data: { id: "x" } },
    };
    expect(parseRoutableEvent(event, catalogue).type).toBe("call_transferred");
    expect(() => parseRoutableEvent(event)).toThrow(UnroutableEventError);
  });

  it("lists every problem of a type an operator adds", () => {
    expect(
      addedEventTypeProblems({ type: "Bad-Type", resource: "Bad Resource", description: "" }),
    ).toHaveLength(3);
    expect(addedEventTypeProblems({ type: "call_hangup", resource: "call", description: "x" })).toEqual([
      'type "call_hangup" is built into the catalogue already',
    ]);
    expect(addedEventTypeProblems({ type: "webhook_x", resource: "webhook", description: "x" })).toHaveLength(
      2,
    );
    expect(addedEventTypeProblems({ type: "call_moved", resource: "call", description: "moved" })).toEqual(
      [],
    );
  });
});

describe("what `npm run ops -- event-types add` answers (for the mutation run over shared/)", () => {
  it("names each problem in the words the operator reads, at the exact length limits", () => {
    const long = `a_${"b".repeat(98)}`;
    expect(addedEventTypeProblems({ type: long })).toEqual([]);
    expect(addedEventTypeProblems({ type: `${long}c` })).toEqual([
      `type "${long}" must be lower-case snake case like call_transferred (at most 100 characters)`,
    ]);
    expect(addedEventTypeProblems({ type: "customer_renamed" })).toEqual([
      'type "customer_renamed" is reserved (webhook_*, customer_*)',
    ]);
    expect(addedEventTypeProblems({ type: "fax_sent", resource: "f".repeat(40) })).toEqual([]);
    expect(addedEventTypeProblems({ type: "fax_sent", resource: "f".repeat(41) })).toEqual([
      `resource "${"f".repeat(40)}" must be a lower-case word like call (at most 40 characters)`,
    ]);
    expect(addedEventTypeProblems({ type: "fax_sent", resource: "webhook" })).toEqual([
      'resource "webhook" is the system\'s own',
    ]);
    expect(addedEventTypeProblems({ type: "fax_sent", description: "  " })).toEqual([
      "description is required (one line saying what the event means)",
    ]);
    expect(addedEventTypeProblems({ type: "fax_sent", description: ` ${"d".repeat(300)} ` })).toEqual([]);
    const tooLong = "description must be one line of at most 300 characters";
    expect(addedEventTypeProblems({ type: "fax_sent", description: "d".repeat(301) })).toEqual([tooLong]);
    expect(addedEventTypeProblems({ type: "fax_sent", description: "two\nlines" })).toEqual([tooLong]);
  });

  it("lets a subscription name a type or resource an operator could add later, within the limits", () => {
    expect(couldBeAddedPattern("fax_*")).toBe(true);
    expect(couldBeAddedPattern(`${"f".repeat(40)}_*`)).toBe(true);
    expect(couldBeAddedPattern(`${"f".repeat(41)}_*`)).toBe(false);
    expect(couldBeAddedPattern("Fax_*")).toBe(false);
    expect(couldBeAddedPattern("fax_sent")).toBe(true);
    expect(couldBeAddedPattern(`a_${"b".repeat(98)}`)).toBe(true);
    expect(couldBeAddedPattern(`a_${"b".repeat(99)}`)).toBe(false);
    expect(couldBeAddedPattern("fax")).toBe(false);
    expect(couldBeAddedPattern("*_fax")).toBe(false);
  });

  it("judges patterns, resources and the listing against the merged catalogue", () => {
    const catalogue = new EventCatalogue([
      added("zeta_done", "zeta"),
      added("alpha_done", "alpha"),
      added("call_hangup", "stale"),
    ]);
    expect(catalogue.isValidPattern("*")).toBe(true);
    expect(catalogue.isValidPattern("zeta_done")).toBe(true);
    expect(catalogue.isValidPattern("call_*")).toBe(true);
    expect(catalogue.isValidPattern("alpha_*")).toBe(true);
    expect(catalogue.isValidPattern("stale_*")).toBe(false);
    expect(catalogue.isValidPattern("_*")).toBe(false);
    expect(catalogue.isValidPattern("zeta")).toBe(false);
    expect(catalogue.resourceOf("zeta_done")).toBe("zeta");
    expect(catalogue.resourceOf("call_hangup")).toBe("call");
    expect(catalogue.resourceOf("nothing_here")).toBeUndefined();
    expect(catalogue.addedType("alpha_done")).toMatchObject({ resource: "alpha", description: "d" });
    expect(catalogue.addedType("call_hangup")).toBeUndefined();
    const list = catalogue.list();
    expect(list[0]).toEqual({ type: expect.any(String), resource: expect.any(String), added: false });
    expect(list.filter((entry) => entry.added)).toEqual([
      { type: "alpha_done", resource: "alpha", added: true },
      { type: "zeta_done", resource: "zeta", added: true },
    ]);
    expect(list.filter((entry) => entry.type === "call_hangup")).toEqual([
      { type: "call_hangup", resource: "call", added: false },
    ]);
  });
});

describe("CachedEventCatalogue: what routing reads", () => {
  function setup(types: AddedEventType[]) {
    let reads = 0;
    let clock = 0;
    const source = {
      list: async () => {
        reads++;
        return [...types];
      },
    };
    const cache = new CachedEventCatalogue(source, () => clock);
    return {
      cache,
      reads: () => reads,
      advance: (ms: number) => {
        clock += ms;
      },
    };
  }

  it("reads nothing for a built-in type", async () => {
    const { cache, reads } = setup([]);
    await cache.forType("call_hangup");
    expect(reads()).toBe(0);
  });

  it("keeps a copy that knows the type for a minute, re-reads one that does not after two seconds", async () => {
    const types = [added("call_transferred", "call")];
    const { cache, reads, advance } = setup(types);
    expect((await cache.forType("call_transferred")).has("call_transferred")).toBe(true);
    advance(CATALOGUE_HIT_TTL_MS - 1);
    await cache.forType("call_transferred");
    expect(reads()).toBe(1);
    advance(1);
    await cache.forType("call_transferred");
    expect(reads()).toBe(2);

    await cache.forType("fax_received");
    expect(reads()).toBe(2); // just read: a miss within 2 s is not read again
    advance(CATALOGUE_MISS_REFRESH_MS);
    types.push(added("fax_received", "fax"));
    expect((await cache.forType("fax_received")).has("fax_received")).toBe(true);
    expect(reads()).toBe(3);
  });

  it("judges a subscription pattern without a read when it is built in, re-reading a miss after two seconds", async () => {
    const types: AddedEventType[] = [];
    const { cache, reads, advance } = setup(types);
    expect((await cache.forPattern("call_*")).isValidPattern("call_*")).toBe(true);
    expect(reads()).toBe(0);
    expect((await cache.forPattern("fax_*")).isValidPattern("fax_*")).toBe(false);
    types.push(added("fax_received", "fax"));
    await cache.forPattern("fax_*");
    expect(reads()).toBe(1);
    advance(CATALOGUE_MISS_REFRESH_MS);
    expect((await cache.forPattern("fax_*")).isValidPattern("fax_*")).toBe(true);
    expect(reads()).toBe(2);
  });

  it("shares one read between concurrent callers", async () => {
    const { cache, reads } = setup([]);
    await Promise.all([cache.forType("a_b"), cache.forType("c_d"), cache.current()]);
    expect(reads()).toBe(1);
  });
});
