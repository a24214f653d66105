/**
 * The router's role allows every call the router makes (docs/security.md, "What the roles allow"):
 * the local DynamoDB and SQS have no IAM, so the router's real dependencies run against them with a
 * recorder on their clients (test/support/iam-check.ts), through every path the router takes, and each
 * recorded (action, resource) must be allowed by the router role's statements in the synthesized
 * template. A call the role does not allow would fail AccessDenied on AWS and park the event on the
 * router-failed queue.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouterHandler } from "#handlers/router.ts";
import { createSqsClient, createTableClients } from "#shared/adapters/clients.ts";
import { createLogger } from "#shared/adapters/observability.ts";
import { loadConfig } from "#shared/config.ts";
import { createRouterDependencies } from "#shared/dependencies.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/aws-env.ts";
import { eventBridgeEvent, fixtureEvent } from "../support/fixtures.ts";
import { IamRecorder, ungrantedCalls } from "../support/iam-check.ts";
import { eventFor } from "../support/pipeline.ts";

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({
    env: { POWERTOOLS_LOG_LEVEL: "SILENT", POWERTOOLS_METRICS_DISABLED: "true" },
  });
});
afterAll(() => env?.close());

function controlEvent(source: string, type: string, customerId: string, data: Record<string, unknown>) {
  return eventBridgeEvent(
    { Source: source, DetailType: type, Detail: JSON.stringify({ customer_id: customerId, data }) },
    { id: randomUUID() },
  );
}

const customerEvent = (type: string, customerId: string, fields: Record<string, unknown>) =>
  controlEvent("voipbin.customer-manager", type, customerId, {
    id: customerId,
    webhook_method: "POST",
    webhook_uri: "https://hooks.example.com/voipbin",
    webhook_secret: "q3Jx-9_Zt0aVbM2kLp8sWn4eYc1HfR6u",
    tm_update: "2026-01-01T00:00:00.000000Z",
    tm_delete: null,
    ...fields,
  });

const activeflowEvent = (type: string, customerId: string, id: string, fields: Record<string, unknown>) =>
  controlEvent("voipbin.flow-manager", type, customerId, {
    id,
    customer_id: customerId,
    status: "running",
    webhook_uri: "https://flows.example.com/callback",
    webhook_method: "POST",
    ...fields,
  });

describe("the router's role", () => {
  it("allows every DynamoDB and SQS call of every routing path (control events, routing, unknown types)", async () => {
    // The clients read their credentials from the process environment, as on Lambda.
    env.applyToProcessEnv();
    const config = loadConfig();
    const recorder = new IamRecorder();
    const doc = recorder.recordDynamoDb(createTableClients(config).doc);
    const sqs = recorder.recordSqs(createSqsClient(config));
    const route = createRouterHandler(createRouterDependencies(config, { doc, sqs }), createLogger("router"));
    const invoke = (event: unknown) => route(event);

    const customer = randomUUID();
    const flow = randomUUID();
    const outcomes = [
      await invoke(customerEvent("customer_created", customer, {})),
      await invoke(eventFor(fixtureEvent("call_hangup"), customer)),
      await invoke(
        activeflowEvent("activeflow_created", customer, flow, { tm_create: "2026-01-01T00:00:00.000001Z" }),
      ),
      await invoke(
        activeflowEvent("activeflow_updated", customer, flow, { tm_update: "2026-01-01T00:00:01.000001Z" }),
      ),
      // An event of an activeflow nothing is known of yet: its inline destination is stored.
      await invoke(eventFor(fixtureEvent("call_hangup"), customer)),
      await invoke(
        activeflowEvent("activeflow_deleted", customer, flow, { tm_delete: "2026-01-01T00:00:02.000001Z" }),
      ),
      await invoke(
        customerEvent("customer_deleted", customer, {
          tm_update: "2026-02-01T00:00:00.000000Z",
          tm_delete: "2026-02-01T00:00:00.000000Z",
        }),
      ),
      // A later creation withdraws the erasure request.
      await invoke(customerEvent("customer_created", customer, { tm_update: "2026-03-01T00:00:00.000000Z" })),
      await invoke(
        eventBridgeEvent({
          Source: "voipbin.call-manager",
          DetailType: "no_such_event_type",
          Detail: JSON.stringify({ customer_id: customer, data: {} }),
        }),
      ),
    ];
    expect(outcomes.map((o) => (o as { kind?: string }).kind)).toEqual([
      "control",
      "routed",
      "routed",
      "routed",
      "routed",
      "routed",
      "control",
      "control",
      "unroutable",
    ]);

    const needed = recorder.distinct();
    // The recorder saw the router's calls (an empty record would pass any role).
    expect(needed).toContainEqual({ action: "dynamodb:Query", resource: `table:${env.tableName}` });
    expect(needed).toContainEqual({
      action: "sqs:SendMessage",
      resource: `queue:${env.queues.deliveryQueueUrl.split("/").at(-1)}`,
    });
    expect(
      ungrantedCalls(recorder, env, "router"),
      "calls the router's role does not allow (AccessDenied on AWS)",
    ).toEqual([]);
  }, 120_000);
});
