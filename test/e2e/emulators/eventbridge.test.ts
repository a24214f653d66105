import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventRulePattern } from "#shared/domain/events/catalogue.ts";
import { type BusEvent, createEventBridgeServer, LocalEventBus } from "../../../local/eventbridge.ts";
import { waitFor } from "../../support/wait.ts";

const BUS = "voipbin-events";
const routed: BusEvent[] = [];
const routedJson: string[] = [];
/** An event with data.id "held" is taken only once this gate opens (a slow durable queue). */
let holdGate: Promise<void> = Promise.resolve();
let holdCalled = false;
const dropped: { reason: string; bus: string }[] = [];
let server: Server;
let client: EventBridgeClient;

const entry = (overrides: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
  EventBusName: BUS,
  Source: "voipbin.call-manager",
  DetailType: "call_hangup",
  Detail: JSON.stringify({ customer_id: "5e4a0680-804e-11ec-8477-2fea5968d85b", data: { id: "c1" } }),
  ...overrides,
});

beforeAll(async () => {
  const bus = new LocalEventBus({
    busName: BUS,
    region: "us-east-1",
    rules: [
      {
        name: "router",
        eventPattern: eventRulePattern(),
        // Stands for the router's durable queue: an event with data.id "not-queued" is not taken.
        target: async (event, eventJson) => {
          const id = (event.detail as { data?: { id?: unknown } }).data?.id;
          if (id === "not-queued") throw new Error("the queue is unavailable");
          if (id === "held") {
            holdCalled = true;
            await holdGate;
          }
          routed.push(event);
          routedJson.push(eventJson);
        },
      },
    ],
    onDropped: (_event, reason, bus) => dropped.push({ reason, bus }),
  });
  server = createEventBridgeServer(bus);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  client = new EventBridgeClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
});

const endpointUrl = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

afterAll(async () => {
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  routed.length = 0;
  routedJson.length = 0;
  dropped.length = 0;
});

describe("the local EventBridge endpoint, through the AWS SDK", () => {
  it("accepts entries, returns their EventIds in order and hands the rule's target the EventBridge envelope", async () => {
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          entry(),
          entry({
            DetailType: "call_created",
            Time: new Date("2026-11-20T09:15:02.118Z"),
            Resources: ["r1"],
          }),
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(0);
    expect(response.Entries).toHaveLength(2);
    const ids = (response.Entries ?? []).map((e) => e.EventId);
    expect(ids.every((id) => /^[0-9a-f-]{36}$/.test(id ?? ""))).toBe(true);

    expect(routed.map((e) => e.id)).toEqual(ids);
    const [first, second] = routed;
    expect(Object.keys(first ?? {})).toEqual([
      "version",
      "id",
      "detail-type",
      "source",
      "account",
      "time",
      "region",
      "resources",
      "detail",
    ]);
    expect(first).toMatchObject({
      version: "0",
      "detail-type": "call_hangup",
      source: "voipbin.call-manager",
      account: "000000000000",
      region: "us-east-1",
      resources: [],
      detail: { customer_id: "5e4a0680-804e-11ec-8477-2fea5968d85b", data: { id: "c1" } },
    });
    expect(first?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(second).toMatchObject({ time: "2026-11-20T09:15:02Z", resources: ["r1"] });
  });

  it("fails single entries with EventBridge's codes and still takes the others", async () => {
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          entry({ Source: undefined }),
          entry({ DetailType: undefined }),
          entry({ Detail: undefined }),
          entry({ Detail: "[1,2]" }),
          entry({ Detail: "{not json" }),
          entry({ Detail: '"a string"' }),
          entry(),
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(6);
    expect(response.Entries?.slice(0, 6)).toEqual([
      {
        ErrorCode: "InvalidArgument",
        ErrorMessage: "Parameter Source is not valid. Reason: Source is a required argument.",
      },
      {
        ErrorCode: "InvalidArgument",
        ErrorMessage: "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
      },
      {
        ErrorCode: "InvalidArgument",
        ErrorMessage: "Parameter Detail is not valid. Reason: Detail is a required argument.",
      },
      { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." },
      { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." },
      { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." },
    ]);
    expect(response.Entries?.[6]?.EventId).toBeDefined();
    expect(routed).toHaveLength(1);
  });

  it("fails an entry whose Time is out of range on its own, after the entries before it were routed", async () => {
    const timeError = {
      ErrorCode: "InvalidArgument",
      ErrorMessage:
        "Parameter Time is not valid. Reason: Time must be a timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.",
    };
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          entry({ Detail: JSON.stringify({ customer_id: "c", data: { id: "first" } }) }),
          entry({ Time: new Date("+010000-01-01T00:00:00Z") }),
          entry({ Time: new Date("-000001-01-01T00:00:00Z") }),
          entry({ Time: new Date("9999-12-31T23:59:59Z"), Detail: JSON.stringify({ data: { id: "last" } }) }),
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(2);
    expect(response.Entries?.[0]?.EventId).toBeDefined();
    expect(response.Entries?.slice(1, 3)).toEqual([timeError, timeError]);
    expect(response.Entries?.[3]?.EventId).toBeDefined();
    expect(routed.map((event) => [(event.detail as { data: { id: string } }).data.id, event.time])).toEqual([
      ["first", expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)],
      ["last", "9999-12-31T23:59:59Z"],
    ]);

    // A Time no date can hold (beyond what the SDK can send): still the entry's own error, not a 500.
    const raw = await fetch(endpointUrl(), {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSEvents.PutEvents" },
      body: JSON.stringify({ Entries: [entry(), { ...entry(), Time: 1e300 }, { ...entry(), Time: {} }] }),
    });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual({
      FailedEntryCount: 2,
      Entries: [{ EventId: expect.any(String) }, timeError, timeError],
    });
  });

  it("rejects the whole request over 10 entries or 256 KiB of entries, as ValidationException", async () => {
    await expect(
      client.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry()) })),
    ).rejects.toMatchObject({
      name: "ValidationException",
      $metadata: { httpStatusCode: 400 },
      message: expect.stringContaining("Member must have length less than or equal to 10"),
    });
    await expect(client.send(new PutEventsCommand({ Entries: [] }))).rejects.toMatchObject({
      name: "ValidationException",
    });
    const big = JSON.stringify({ customer_id: "x", data: { blob: "x".repeat(130 * 1024) } });
    await expect(
      client.send(new PutEventsCommand({ Entries: [entry({ Detail: big }), entry({ Detail: big })] })),
    ).rejects.toMatchObject({
      name: "ValidationException",
      message: "Total size of the entries in the request is over the limit.",
    });
    // Just under the limit is fine.
    const fits = JSON.stringify({ data: "x".repeat(256 * 1024 - 200) });
    const accepted = await client.send(new PutEventsCommand({ Entries: [entry({ Detail: fits })] }));
    expect(accepted.FailedEntryCount).toBe(0);
    await expect(
      client.send(new PutEventsCommand({ Entries: [entry({ EventBusName: "not a bus name!" })] })),
    ).rejects.toMatchObject({ name: "ValidationException" });
    expect(routed).toHaveLength(1);
  });

  it("routes by bus name or ARN; other buses (default included) accept the event and drop it, as AWS does", async () => {
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          entry({ EventBusName: `arn:aws:events:us-east-1:000000000000:event-bus/${BUS}` }),
          entry({ EventBusName: "someone-elses-bus" }),
          entry({ EventBusName: undefined }),
          entry({ Source: "aws.ec2" }),
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(0);
    expect(response.Entries?.every((e) => e.EventId)).toBe(true);
    expect(routed).toHaveLength(1);
    expect(dropped).toEqual([
      { reason: "unknown_bus", bus: "someone-elses-bus" },
      { reason: "unknown_bus", bus: "default" },
      { reason: "no_matching_rule", bus: BUS },
    ]);
  });

  it("hands the target the envelope as JSON text with the Detail as put, and fails an entry the target could not take with InternalFailure", async () => {
    const detail = '{"customer_id":"5e4a0680-804e-11ec-8477-2fea5968d85b", "data": {"id":"kept \\ufffe"}}';
    const response = await client.send(
      new PutEventsCommand({
        Entries: [
          entry({ Detail: detail }),
          entry({
            Detail: JSON.stringify({
              customer_id: "5e4a0680-804e-11ec-8477-2fea5968d85b",
              data: { id: "not-queued" },
            }),
          }),
        ],
      }),
    );
    expect(response.FailedEntryCount).toBe(1);
    expect(response.Entries?.[0]?.EventId).toBe(routed[0]?.id);
    expect(response.Entries?.[1]).toMatchObject({ ErrorCode: "InternalFailure" });
    expect(response.Entries?.[1]?.EventId).toBeUndefined();
    expect(routed).toHaveLength(1);
    expect(routedJson[0]).toContain(`"detail":${detail}}`);
    expect(JSON.parse(routedJson[0] ?? "")).toEqual(routed[0]);
  });

  it("answers PutEvents only once the rule's target holds the event", async () => {
    let release: () => void = () => {};
    holdGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    holdCalled = false;
    let answered = false;
    const response = client
      .send(
        new PutEventsCommand({
          Entries: [
            entry({
              Detail: JSON.stringify({
                customer_id: "5e4a0680-804e-11ec-8477-2fea5968d85b",
                data: { id: "held" },
              }),
            }),
          ],
        }),
      )
      .finally(() => {
        answered = true;
      });
    await waitFor(() => holdCalled, { description: "the target to be handed the event" });
    await expect(waitFor(() => answered, { timeoutMs: 300 })).rejects.toThrow(/did not hold/);
    release();
    expect((await response).FailedEntryCount).toBe(0);
  });

  it("answers other operations and malformed bodies with AWS JSON errors", async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const unknown = await fetch(url, {
      method: "POST",
      headers: { "x-amz-target": "AWSEvents.ListRules", "content-type": "application/x-amz-json-1.1" },
      body: "{}",
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ __type: "UnknownOperationException" });
    const malformed = await fetch(url, {
      method: "POST",
      headers: { "x-amz-target": "AWSEvents.PutEvents", "content-type": "application/x-amz-json-1.1" },
      body: "{",
    });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("x-amzn-errortype")).toBe("SerializationException");
  });
});
