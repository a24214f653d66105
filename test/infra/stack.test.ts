import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Validations } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import type { Construct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { deliveryOutcomeMetric, METRIC_NAMES } from "#handlers/metrics.ts";
import { renderOpenApiDocument } from "#shared/api/openapi.ts";
import { ROUTES } from "#shared/api/routes.ts";
import { configSchema, DEFAULT_RETRY_SCHEDULE_SECONDS, loadConfig } from "#shared/config.ts";
import { routerRules } from "#shared/domain/events/catalogue.ts";
import {
  BACKSTOP_RECONCILE_MINUTES,
  DEFAULT_RESOURCE_NAMES,
  DELIVERY_BATCH,
  DELIVERY_BATCHING_WINDOW_SECONDS,
  DELIVERY_FUNCTION_TIMEOUT_SECONDS,
  deliveryQueueSettings,
  FUNCTION_MEMORY_MB,
  FUNCTION_NAMES,
  FUNCTION_TIMEOUT_SECONDS,
  ROUTER_QUEUE,
  SQS_MAX_MESSAGE_BYTES,
  TABLE_KEYS,
} from "#shared/resources.ts";
import { PLACEHOLDERS } from "../../bench/cold-start.ts";
import { bundleContents, packageOf } from "../../infra/bundle-contents.ts";
import { oldestMessageAgeThresholdSeconds } from "../../infra/constructs/observability.ts";
import { GATEWAY_ROUTES } from "../../infra/constructs/subscriptions-api.ts";
import { loadLocalSettings } from "../../local/settings.ts";
import { FUNCTION_TIMEOUTS_MS } from "../../local/stack.ts";
import { decodeStackTrace } from "../../scripts/decode-stack.ts";
import {
  arnOf,
  logicalIdOf,
  onlyResource,
  refTo,
  resourcesOfType,
  type SynthesizedApp,
  synthesize,
} from "./app-fixture.ts";

// One real synth (esbuild bundling and the cdk-nag validation plugin included) shared by every test.
let synth: SynthesizedApp;
beforeAll(() => {
  synth = synthesize();
});

const ids = () => {
  const { stack } = synth;
  return {
    table: logicalIdOf(stack.table.table),
    deliveriesTable: logicalIdOf(stack.deliveriesTable.table),
    deliveryQueue: logicalIdOf(stack.queues.deliveryQueue),
    deliveryDlq: logicalIdOf(stack.queues.deliveryDlq),
    deliveryBackstop: logicalIdOf(stack.queues.deliveryBackstop),
    slowDeliveryQueue: logicalIdOf(stack.queues.slowDeliveryQueue),
    unroutable: logicalIdOf(stack.queues.unroutableQueue),
    routerQueue: logicalIdOf(stack.routing.queue),
    routerFailed: logicalIdOf(stack.routing.failedQueue),
    ingestDlq: logicalIdOf(stack.ingest.deadLetterQueue),
    bus: logicalIdOf(stack.ingest.bus),
    router: logicalIdOf(stack.routing.router.function),
    delivery: logicalIdOf(stack.delivery.delivery.function),
    api: logicalIdOf(stack.api.api.function),
    authorizer: logicalIdOf(stack.api.authorizer.function),
  };
};

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
/** Every statement of the identity policy attached to a function's role. */
function statementsOf(roleLogicalId: string): Statement[] {
  return resourcesOfType(synth.template, "AWS::IAM::Policy")
    .filter(
      ([, policy]) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([refTo(roleLogicalId)]),
    )
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];
const resourcesOf = (statement: Statement) =>
  Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
function actionsOn(roleLogicalId: string, resource: unknown): string[] {
  return statementsOf(roleLogicalId)
    .filter((s) => resourcesOf(s).some((r) => JSON.stringify(r) === JSON.stringify(resource)))
    .flatMap(actionsOf)
    .sort();
}
const roleOf = (fn: { role: unknown }) => logicalIdOf(fn.role as never);

describe("event ingest", () => {
  it("creates the voipbin-events bus", () => {
    synth.template.hasResourceProperties("AWS::Events::EventBus", {
      Name: `${DEFAULT_RESOURCE_NAMES.eventBus}-prod`,
    });
  });

  it("routes with exactly the catalogue module's two rules (source prefix and customer id shape, see docs/deploy.md)", () => {
    const rules = resourcesOfType(synth.template, "AWS::Events::Rule").filter(
      ([, rule]) => rule.Properties.EventPattern !== undefined,
    );
    expect(rules.map(([id]) => id).sort()).toEqual(
      [logicalIdOf(synth.stack.ingest.rule), logicalIdOf(synth.stack.ingest.ungroupedRule)].sort(),
    );
    const [fair, ungrouped] = routerRules();
    const byId = Object.fromEntries(rules);
    expect(byId[logicalIdOf(synth.stack.ingest.rule)]?.Properties.EventPattern).toEqual(fair?.eventPattern);
    expect(byId[logicalIdOf(synth.stack.ingest.ungroupedRule)]?.Properties.EventPattern).toEqual(
      ungrouped?.eventPattern,
    );
    for (const [, rule] of rules) expect(rule.Properties.EventBusName).toEqual(refTo(ids().bus));
  });

  it("sends to the router's fair queue, grouped by customer id, with a retry policy and a dead-letter queue", () => {
    const targetsOf = (rule: Construct) =>
      synth.template.toJSON().Resources[logicalIdOf(rule)].Properties.Targets as Record<string, unknown>[];
    const common = {
      Arn: arnOf(ids().routerQueue),
      RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
      DeadLetterConfig: { Arn: arnOf(ids().ingestDlq) },
    };
    expect(targetsOf(synth.stack.ingest.rule)).toEqual([
      expect.objectContaining({ ...common, SqsParameters: { MessageGroupId: "$.detail.customer_id" } }),
    ]);
    const [ungrouped] = targetsOf(synth.stack.ingest.ungroupedRule);
    expect(ungrouped).toEqual(expect.objectContaining(common));
    expect(ungrouped?.SqsParameters).toBeUndefined();
  });
});

describe("router", () => {
  it("reads its fair queue through a mapping: batches, partial batch failures, bounded concurrency", () => {
    const { resource } = onlyResource(synth.template, "AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arnOf(ids().routerQueue),
    });
    expect(resource.Properties).toEqual(
      expect.objectContaining({
        FunctionName: refTo(ids().router),
        BatchSize: ROUTER_QUEUE.batchSize,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        ScalingConfig: { MaximumConcurrency: ROUTER_QUEUE.maxConcurrency },
      }),
    );
  });

  it("retries an event it failed on, then moves it to the router-failed queue", () => {
    synth.template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: `${DEFAULT_RESOURCE_NAMES.routerQueue}-prod`,
      VisibilityTimeout: 6 * FUNCTION_TIMEOUT_SECONDS.router,
      RedrivePolicy: { deadLetterTargetArn: arnOf(ids().routerFailed), maxReceiveCount: 5 },
    });
  });

  it("sends failed direct asynchronous invocations to the router-failed queue after two retries", () => {
    synth.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: refTo(ids().router),
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: arnOf(ids().routerFailed) } },
    });
  });

  it("may read and write its control items, Query the table, store event bodies, and send to the delivery and unroutable queues, nothing more", () => {
    const role = roleOf(synth.stack.routing.router);
    // What the router calls on each path (customer and activeflow control events, erasure requests
    // and their withdrawal, routing): test/integration/router-iam.test.ts records it against this role.
    expect(actionsOn(role, arnOf(ids().table))).toEqual([
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]);
    // The event's body is a delivery record: the only thing the router writes there.
    expect(actionsOn(role, arnOf(ids().deliveriesTable))).toEqual(["dynamodb:PutItem"]);
    expect(actionsOn(role, arnOf(ids().deliveryQueue))).toEqual(["sqs:SendMessage"]);
    expect(actionsOn(role, arnOf(ids().unroutable))).toEqual(["sqs:SendMessage"]);
  });
});

describe("table", () => {
  it("is on-demand, recoverable, encrypted, expires items, and is kept outside dev stages", () => {
    synth.template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "RetainExceptOnCreate",
      UpdateReplacePolicy: "Retain",
      Properties: Match.objectLike({
        TableName: `${DEFAULT_RESOURCE_NAMES.table}-prod`,
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: TABLE_KEYS.gsi1.indexName,
            KeySchema: [
              { AttributeName: TABLE_KEYS.gsi1.partitionKey, KeyType: "HASH" },
              { AttributeName: TABLE_KEYS.gsi1.sortKey, KeyType: "RANGE" },
            ],
            Projection: {
              ProjectionType: "INCLUDE",
              NonKeyAttributes: [...TABLE_KEYS.gsi1.projectedAttributes],
            },
          },
        ],
      }),
    });
  });

  it("keeps the delivery records apart: expiring, encrypted, kept outside dev stages, no index and no PITR", () => {
    const { resource } = onlyResource(synth.template, "AWS::DynamoDB::Table", {
      TableName: `${DEFAULT_RESOURCE_NAMES.deliveriesTable}-prod`,
    });
    expect(resource.DeletionPolicy).toBe("RetainExceptOnCreate");
    expect(resource.UpdateReplacePolicy).toBe("Retain");
    expect(resource.Properties).toEqual(
      expect.objectContaining({
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: "RANGE" },
        ],
      }),
    );
    expect(resource.Properties.GlobalSecondaryIndexes).toBeUndefined();
    // The functions are told its name.
    synth.template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({ DELIVERIES_TABLE_NAME: { Ref: ids().deliveriesTable } }),
      },
    });
  });
});

describe("delivery queue", () => {
  const settings = deliveryQueueSettings(DEFAULT_RETRY_SCHEDULE_SECONDS);

  it("redrives only as a backstop of receives that went wrong (35), whatever the schedule", () => {
    expect(settings.maxReceiveCount).toBe(35);
    synth.template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: `${DEFAULT_RESOURCE_NAMES.deliveryQueue}-prod`,
      // Only a backstop: our code dead-letters after the last attempt. SQS's own moves land on the
      // backstop queue, never on the dead-letter queue.
      RedrivePolicy: { deadLetterTargetArn: arnOf(ids().deliveryBackstop), maxReceiveCount: 35 },
    });
  });

  it("has a backstop queue of its own: 1 MiB messages, kept 14 days, alarmed when it is not drained", () => {
    synth.template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: `${DEFAULT_RESOURCE_NAMES.deliveryBackstop}-prod`,
      MessageRetentionPeriod: 14 * 24 * 3600,
      MaximumMessageSize: 1_048_576,
    });
    expect(ids().deliveryBackstop).not.toBe(ids().deliveryDlq);
    synth.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: "voipbin-webhooks-prod-DeliveryBackstopNotDrained",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [ids().deliveryBackstop, "QueueName"] } }],
      Threshold: 1,
    });
  });

  it("keeps messages longer than the retry window and hides them 6x the function timeout", () => {
    const { resource } = onlyResource(synth.template, "AWS::SQS::Queue", {
      QueueName: `${DEFAULT_RESOURCE_NAMES.deliveryQueue}-prod`,
    });
    const retention = resource.Properties.MessageRetentionPeriod as number;
    const visibility = resource.Properties.VisibilityTimeout as number;
    expect(retention).toBe(settings.retentionSeconds);
    expect(retention).toBeGreaterThanOrEqual(4 * 24 * 3600);
    expect(retention).toBeGreaterThan(DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0));
    expect(visibility).toBe(settings.visibilityTimeoutSeconds);
    expect(visibility).toBeGreaterThanOrEqual(6 * DELIVERY_FUNCTION_TIMEOUT_SECONDS);
  });

  it("has a DLQ that keeps dead jobs 14 days", () => {
    synth.template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: `${DEFAULT_RESOURCE_NAMES.deliveryDlq}-prod`,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  it("every queue is encrypted and every queue policy denies requests without TLS", () => {
    const queues = resourcesOfType(synth.template, "AWS::SQS::Queue");
    expect(queues).toHaveLength(8);
    for (const [id, queue] of queues) {
      expect(queue.Properties.SqsManagedSseEnabled ?? queue.Properties.KmsMasterKeyId, id).toBeTruthy();
      const policies = resourcesOfType(synth.template, "AWS::SQS::QueuePolicy").filter(([, p]) =>
        JSON.stringify(p.Properties.Queues).includes(`"${id}"`),
      );
      const statements = policies.flatMap(
        ([, p]) => (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
      );
      expect(statements, id).toContainEqual(
        expect.objectContaining({
          Effect: "Deny",
          Action: "sqs:*",
          Principal: { AWS: "*" },
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        }),
      );
    }
  });

  it("every queue states its maximum message size: 1 MiB, not a default that tools still give as 256 KiB", () => {
    const queues = resourcesOfType(synth.template, "AWS::SQS::Queue");
    expect(queues.length).toBeGreaterThan(0);
    for (const [id, queue] of queues) {
      expect(queue.Properties.MaximumMessageSize, id).toBe(1_048_576);
    }
    expect(SQS_MAX_MESSAGE_BYTES).toBe(1_048_576);
  });

  it("terminal queues keep messages 14 days", () => {
    for (const id of [
      ids().unroutable,
      ids().routerFailed,
      ids().ingestDlq,
      ids().deliveryDlq,
      ids().deliveryBackstop,
    ]) {
      expect(synth.template.toJSON().Resources[id].Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    }
  });
});

describe("delivery function", () => {
  it("consumes the delivery queue in batches with partial batch failures and bounded concurrency", () => {
    const { resource } = onlyResource(synth.template, "AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arnOf(ids().deliveryQueue),
    });
    expect(resource.Properties).toEqual(
      expect.objectContaining({
        EventSourceArn: arnOf(ids().deliveryQueue),
        FunctionName: refTo(ids().delivery),
        BatchSize: DELIVERY_BATCH.batchSize,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        ScalingConfig: { MaximumConcurrency: 20 },
      }),
    );
    // The deployed mappings gather for a window (the local poller does not: DELIVERY_BATCH).
    expect(resource.Properties.MaximumBatchingWindowInSeconds ?? 0).toBe(DELIVERY_BATCHING_WINDOW_SECONDS);
  });

  it("consumes the slow lane through a mapping of its own, capped apart from the main lane's", () => {
    const mappings = resourcesOfType(synth.template, "AWS::Lambda::EventSourceMapping").filter(
      ([, mapping]) =>
        JSON.stringify(mapping.Properties.FunctionName) === JSON.stringify(refTo(ids().delivery)),
    );
    expect(mappings).toHaveLength(2);
    const { resource } = onlyResource(synth.template, "AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arnOf(ids().slowDeliveryQueue),
    });
    expect(resource.Properties).toEqual(
      expect.objectContaining({
        FunctionName: refTo(ids().delivery),
        BatchSize: DELIVERY_BATCH.batchSize,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        ScalingConfig: { MaximumConcurrency: 5 },
      }),
    );
  });

  it("reserves at least every mapping's maximum concurrency plus the backstop pass, so no batch is throttled", () => {
    const mappings = resourcesOfType(synth.template, "AWS::Lambda::EventSourceMapping").filter(
      ([, mapping]) =>
        JSON.stringify(mapping.Properties.FunctionName) === JSON.stringify(refTo(ids().delivery)),
    );
    const sum = mappings.reduce(
      (total, [, mapping]) =>
        total +
        (mapping.Properties as { ScalingConfig: { MaximumConcurrency: number } }).ScalingConfig
          .MaximumConcurrency,
      0,
    );
    const fn = synth.template.toJSON().Resources[ids().delivery] as {
      Properties: { ReservedConcurrentExecutions?: number };
    };
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(sum + 1);
    expect(sum).toBe(25);
  });

  it("is mirrored by the local stack: each lane runs as many pollers as its deployed mapping's maxConcurrency", () => {
    // Isolation depends on it (docs/local.md, "Fair delivery"): fewer local pollers let a new black
    // hole's first jobs hold the whole main lane, which a deployment never shows.
    const concurrencyOf = (queue: string) =>
      (
        onlyResource(synth.template, "AWS::Lambda::EventSourceMapping", { EventSourceArn: arnOf(queue) })
          .resource.Properties as { ScalingConfig: { MaximumConcurrency: number } }
      ).ScalingConfig.MaximumConcurrency;
    const local = loadLocalSettings([], {});
    if (local === "help") throw new Error("no --help was given");
    expect(local.deliveryConcurrency).toBe(concurrencyOf(ids().deliveryQueue));
    expect(local.slowLaneConcurrency).toBe(concurrencyOf(ids().slowDeliveryQueue));
  });

  it("has a slow lane queue with the delivery queue's settings and backstop queue", () => {
    const settings = deliveryQueueSettings(DEFAULT_RETRY_SCHEDULE_SECONDS);
    synth.template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: `${DEFAULT_RESOURCE_NAMES.slowDeliveryQueue}-prod`,
      VisibilityTimeout: settings.visibilityTimeoutSeconds,
      MessageRetentionPeriod: settings.retentionSeconds,
      RedrivePolicy: {
        deadLetterTargetArn: arnOf(ids().deliveryBackstop),
        maxReceiveCount: settings.maxReceiveCount,
      },
    });
  });

  it("may move jobs to the slow lane and the dead-letter queue, and tell every function where they are", () => {
    const role = roleOf(synth.stack.delivery.delivery);
    expect(actionsOn(role, arnOf(ids().slowDeliveryQueue))).toEqual(
      expect.arrayContaining(["sqs:SendMessage"]),
    );
    expect(actionsOn(role, arnOf(ids().deliveryDlq))).toEqual(expect.arrayContaining(["sqs:SendMessage"]));
    synth.template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: "delivery",
          SLOW_DELIVERY_QUEUE_URL: { Ref: ids().slowDeliveryQueue },
          DELIVERY_DLQ_URL: { Ref: ids().deliveryDlq },
          DELIVERY_BACKSTOP_QUEUE_URL: { Ref: ids().deliveryBackstop },
        }),
      },
    });
  });

  it("times out after DELIVERY_FUNCTION_TIMEOUT_SECONDS", () => {
    synth.template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: "delivery" }) },
      Timeout: DELIVERY_FUNCTION_TIMEOUT_SECONDS,
    });
  });

  it("may re-send jobs that wait (delayed messages), read and write delivery records, and put events on the bus", () => {
    const role = roleOf(synth.stack.delivery.delivery);
    expect(actionsOn(role, arnOf(ids().deliveryQueue))).toContain("sqs:SendMessage");
    // Query, Scan, BatchWriteItem and DeleteItem: the scheduled pass's erasure of deleted customers.
    expect([...actionsOn(role, arnOf(ids().table))].sort()).toEqual(
      [
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
      ].sort(),
    );
    // The delivery records of layout 3; DescribeTable: when the split happened. No DeleteItem.
    expect([...actionsOn(role, arnOf(ids().deliveriesTable))].sort()).toEqual(
      [
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
        "dynamodb:DescribeTable",
      ].sort(),
    );
    // Send only: our own dead-lettering and the backstop reconciliation's.
    expect([...new Set(actionsOn(role, arnOf(ids().deliveryDlq)))]).toEqual([
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
    ]);
    // Receive, release and delete: the backstop reconciliation reads the backstop queue.
    expect([...new Set(actionsOn(role, arnOf(ids().deliveryBackstop)))]).toEqual([
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
    ]);
    expect(actionsOn(role, arnOf(ids().bus))).toEqual(["events:PutEvents"]);
  });

  it("is invoked every BACKSTOP_RECONCILE_MINUTES by a schedule, with the Scheduled Event, to reconcile backstop arrivals", () => {
    const rules = resourcesOfType(synth.template, "AWS::Events::Rule").filter(
      ([, rule]) => rule.Properties.ScheduleExpression !== undefined,
    );
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0] as (typeof rules)[number];
    expect(rule.Properties.ScheduleExpression).toBe(`rate(${BACKSTOP_RECONCILE_MINUTES} minutes)`);
    expect(rule.Properties.State).toBe("ENABLED");
    const targets = rule.Properties.Targets as { Arn: unknown; Input?: unknown; RetryPolicy?: unknown }[];
    expect(targets).toHaveLength(1);
    expect(targets[0]?.Arn).toEqual({ "Fn::GetAtt": [ids().delivery, "Arn"] });
    // No custom input: the function receives EventBridge's Scheduled Event (handlers/delivery.ts).
    expect(targets[0]?.Input).toBeUndefined();
    expect(targets[0]?.RetryPolicy).toEqual({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: BACKSTOP_RECONCILE_MINUTES * 60,
    });
    // Lambda's own retries of a failed asynchronous invocation (two by default) are off as well.
    synth.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: refTo(ids().delivery),
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: BACKSTOP_RECONCILE_MINUTES * 60,
    });
    synth.template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: { "Fn::GetAtt": [ids().delivery, "Arn"] },
      Principal: "events.amazonaws.com",
      SourceArn: { "Fn::GetAtt": [rules[0]?.[0], "Arn"] },
    });
  });
});

describe("subscriptions API", () => {
  const routeKeys = () =>
    new Map(
      resourcesOfType(synth.template, "AWS::ApiGatewayV2::Route").map(([, route]) => [
        route.Properties.RouteKey as string,
        route.Properties,
      ]),
    );

  it("has exactly the routes the API function dispatches on (shared/api/routes.ts), the portal's, and $default, all to the API function", () => {
    const routes = routeKeys();
    expect(ROUTES.length).toBeGreaterThanOrEqual(17);
    for (const key of ["GET /portal", "GET /portal/{proxy+}", "POST /v1/portal/sessions"]) {
      expect(routes.has(key), key).toBe(true);
    }
    expect([...routes.keys()].sort()).toEqual(
      [...GATEWAY_ROUTES.map((r) => `${r.method} ${r.path}`), "$default"].sort(),
    );
    const { logicalId: integration, resource } = onlyResource(
      synth.template,
      "AWS::ApiGatewayV2::Integration",
    );
    expect(JSON.stringify(resource.Properties.IntegrationUri)).toContain(ids().api);
    expect(resource.Properties.PayloadFormatVersion).toBe("2.0");
    for (const [key, route] of routes) {
      expect(JSON.stringify(route.Target), key).toContain(integration);
    }
  });

  it("puts the access-key authorizer on every route the route table guards (all but the document and the link exchange) and none on the portal's files", () => {
    const { logicalId: authorizer } = onlyResource(synth.template, "AWS::ApiGatewayV2::Authorizer");
    const publicRoutes = GATEWAY_ROUTES.filter((r) => r.public).map((r) => `${r.method} ${r.path}`);
    expect(publicRoutes.sort()).toEqual(
      ["GET /openapi.json", "GET /portal", "GET /portal/{proxy+}", "POST /v1/portal/sessions"].sort(),
    );
    expect(ROUTES.filter((r) => !r.auth).map((r) => r.path)).toEqual([
      "/v1/portal/sessions",
      "/openapi.json",
    ]);
    for (const [key, route] of routeKeys()) {
      if (publicRoutes.includes(key)) {
        expect(route.AuthorizationType, key).toBe("NONE");
        expect(route.AuthorizerId, key).toBeUndefined();
      } else {
        expect(route.AuthorizationType, key).toBe("CUSTOM");
        expect(route.AuthorizerId, key).toEqual(refTo(authorizer));
      }
    }
  });

  it("authorizes with the authorizer function in simple-response mode, uncached, with no required identity source", () => {
    synth.template.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "REQUEST",
      AuthorizerPayloadFormatVersion: "2.0",
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: [],
    });
    const { resource } = onlyResource(synth.template, "AWS::ApiGatewayV2::Authorizer");
    expect(JSON.stringify(resource.Properties.AuthorizerUri)).toContain(ids().authorizer);
  });

  it("logs access (without query strings), throttles by default, and has no CORS unless configured", () => {
    const { resource } = onlyResource(synth.template, "AWS::ApiGatewayV2::Stage");
    const settings = resource.Properties.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(settings.DestinationArn).toEqual(arnOf(logicalIdOf(synth.stack.api.accessLogGroup)));
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format.requestId).toBe("$context.requestId");
    expect(format.status).toBe("$context.status");
    expect(settings.Format).not.toMatch(/querystring|requestOverride|header/i);
    expect(resource.Properties.DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: 100,
      ThrottlingBurstLimit: 200,
    });
    expect(resource.Properties.StageName).toBe("$default");
    const { resource: api } = onlyResource(synth.template, "AWS::ApiGatewayV2::Api");
    expect(api.Properties.CorsConfiguration).toBeUndefined();
  });

  it("the authorizer may only GetItem on the table", () => {
    const statements = statementsOf(roleOf(synth.stack.api.authorizer)).filter((s) =>
      actionsOf(s).some((a) => a.startsWith("dynamodb:")),
    );
    expect(statements.flatMap(actionsOf)).toEqual(["dynamodb:GetItem"]);
    expect(statements.flatMap(resourcesOf)).toEqual([arnOf(ids().table)]);
  });

  it("the API function may use the table and GSI1 (no Scan) and enqueue delivery jobs", () => {
    const role = roleOf(synth.stack.api.api);
    expect(actionsOn(role, arnOf(ids().table))).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]);
    expect(actionsOn(role, { "Fn::Join": ["", [arnOf(ids().table), "/index/GSI1"]] })).toEqual([
      "dynamodb:Query",
    ]);
    // No BatchGetItem there (a log page's heads of layout 3 are the Query's items) and no Scan.
    expect([...actionsOn(role, arnOf(ids().deliveriesTable))].sort()).toEqual([
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]);
    expect(actionsOn(role, arnOf(ids().deliveryQueue))).toEqual(["sqs:SendMessage"]);
  });
});

describe("every function", () => {
  const functions = () => resourcesOfType(synth.template, "AWS::Lambda::Function");

  it("is Node.js 24 on arm64, untraced, JSON logs without platform lines, its own log group with a retention", () => {
    expect(functions()).toHaveLength(4);
    for (const [id, fn] of functions()) {
      expect(fn.Properties.Runtime, id).toBe("nodejs24.x");
      expect(fn.Properties.Architectures, id).toEqual(["arm64"]);
      expect(fn.Properties.TracingConfig, id).toBeUndefined();
      expect(fn.Properties.LoggingConfig, id).toEqual(
        expect.objectContaining({ LogFormat: "JSON", ApplicationLogLevel: "INFO", SystemLogLevel: "WARN" }),
      );
      const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(fn.Properties.MemorySize, id).toBe(
        FUNCTION_MEMORY_MB[variables.POWERTOOLS_SERVICE_NAME as keyof typeof FUNCTION_MEMORY_MB],
      );
      const logGroup = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(synth.template.toJSON().Resources[logGroup].Properties.RetentionInDays, id).toBe(30);
    }
  });

  it("times out as the local stack times the same function out (shared/resources.ts)", () => {
    const deployed = Object.fromEntries(
      functions().map(([, fn]) => [
        (fn.Properties.Environment as { Variables: Record<string, string> }).Variables
          .POWERTOOLS_SERVICE_NAME,
        (fn.Properties.Timeout as number) * 1000,
      ]),
    );
    expect(deployed).toEqual(FUNCTION_TIMEOUTS_MS);
    expect(Object.keys(deployed).sort()).toEqual([...FUNCTION_NAMES].sort());
    // The API function answers within API Gateway's 30 s integration timeout.
    expect(FUNCTION_TIMEOUT_SECONDS.api).toBeLessThan(30);
  });

  it("gets the Powertools settings and an environment that shared/config.ts accepts", () => {
    const names = new Set<string>();
    for (const [id, fn] of functions()) {
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      names.add(env.POWERTOOLS_SERVICE_NAME as string);
      expect(env.POWERTOOLS_LOG_LEVEL, id).toBe("INFO");
      expect(env.POWERTOOLS_METRICS_NAMESPACE, id).toBe("VoipbinWebhooks");
      expect(env.TABLE_NAME, id).toEqual(refTo(ids().table));
      expect(env.DELIVERY_QUEUE_URL, id).toEqual(refTo(ids().deliveryQueue));
      expect(env.UNROUTABLE_QUEUE_URL, id).toEqual(refTo(ids().unroutable));
      // Resource references resolve at deploy time; stand in for them and parse the rest.
      const resolved = Object.fromEntries(
        Object.entries(env).map(([key, value]) => [
          key,
          typeof value === "string" ? value : key === "TABLE_NAME" ? "table" : "https://sqs.example/1/q",
        ]),
      );
      const config = loadConfig(resolved);
      expect(config.RETRY_SCHEDULE, id).toEqual(DEFAULT_RETRY_SCHEDULE_SECONDS);
      expect(config.EVENT_BUS_NAME, id).toBe(`${DEFAULT_RESOURCE_NAMES.eventBus}-prod`);
      for (const key of Object.keys(env).filter((k) => !k.startsWith("POWERTOOLS_"))) {
        expect(Object.keys(configSchema.shape), `${id} ${key}`).toContain(key);
      }
    }
    expect([...names].sort()).toEqual(["api", "authorizer", "delivery", "router"]);
  });

  it("has no wildcard action, and a wildcard resource only for the X-Ray actions", () => {
    const statements = resourcesOfType(synth.template, "AWS::IAM::Policy").flatMap(
      ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      for (const action of actionsOf(statement)) expect(action).not.toContain("*");
      if (resourcesOf(statement).includes("*")) {
        expect(actionsOf(statement).sort()).toEqual(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]);
      }
      expect(JSON.stringify(statement.Resource)).not.toContain("/index/*");
    }
    expect(
      synth.template.findResources("AWS::IAM::Role", { Properties: { ManagedPolicyArns: Match.anyValue() } }),
    ).toEqual({});
  });

  it("ships one bundled ESM file with a source map", () => {
    for (const fn of [
      synth.stack.routing.router,
      synth.stack.delivery.delivery,
      synth.stack.api.api,
      synth.stack.api.authorizer,
    ]) {
      const asset = synth.template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Code
        .S3Key as string;
      const dir = join(synth.assemblyDir, `asset.${asset.replace(/\.zip$/, "")}`);
      const bundle = readFileSync(join(dir, "index.mjs"), "utf8");
      expect(bundle.startsWith("import { createRequire as __voipbinCreateRequire }")).toBe(true);
      expect(readFileSync(join(dir, "index.mjs.map"), "utf8")).toContain('"mappings"');
      // The AWS SDK is bundled, not left to the runtime's copy.
      expect(bundle).not.toMatch(/from\s*"@aws-sdk\//);
      // Credentials from the environment only (Lambda's); none of the default chain's other
      // providers (container and instance metadata, SSO, STS), which never answer on Lambda.
      expect(bundle).toContain("AWS_SECRET_ACCESS_KEY");
      for (const unused of [
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "sso_start_url",
        "AssumeRoleWithWebIdentity",
      ]) {
        expect(bundle, unused).not.toContain(unused);
      }
    }
  });

  const assetDirOf = (fn: { function: unknown }) => {
    const code = synth.template.toJSON().Resources[logicalIdOf(fn.function as never)].Properties.Code;
    return join(synth.assemblyDir, `asset.${(code.S3Key as string).replace(/\.zip$/, "")}`);
  };
  const contentsOf = (fn: { function: unknown }) => {
    const contents = bundleContents(assetDirOf(fn));
    if (!contents) throw new Error("the bundle has no esbuild metafile");
    return contents;
  };
  const webhookFunctions = () => ({
    router: synth.stack.routing.router,
    delivery: synth.stack.delivery.delivery,
    api: synth.stack.api.api,
    authorizer: synth.stack.api.authorizer,
  });

  it("builds only the clients each function uses", () => {
    const clients = ["@aws-sdk/client-dynamodb", "@aws-sdk/client-sqs", "@aws-sdk/client-eventbridge"];
    const bundled = (fn: { function: unknown }) =>
      clients.filter((client) => contentsOf(fn).packages.has(client)).map((c) => c.replace("@aws-sdk/", ""));
    const { router, delivery, api, authorizer } = webhookFunctions();
    expect(bundled(router)).toEqual(["client-dynamodb", "client-sqs"]);
    expect(bundled(delivery)).toEqual(["client-dynamodb", "client-sqs", "client-eventbridge"]);
    expect(bundled(api)).toEqual(["client-dynamodb", "client-sqs"]);
    expect(bundled(authorizer)).toEqual(["client-dynamodb"]);
  });

  it("keeps out of every bundle the packages a function never runs", () => {
    // Credentials: Lambda's are in the environment (shared/adapters/lambda-credentials.ts); the rest
    // of the default chain, and the STS/SSO clients it builds them with, never answer there.
    const neverBundled = [
      "@aws-sdk/credential-provider-node",
      "@aws-sdk/credential-provider-ini",
      "@aws-sdk/credential-provider-sso",
      "@aws-sdk/credential-provider-process",
      "@aws-sdk/credential-provider-web-identity",
      "@aws-sdk/credential-provider-http",
      "@aws-sdk/credential-provider-login",
      "@aws-sdk/nested-clients",
      "@aws-sdk/token-providers",
      "@smithy/credential-provider-imds",
      // Node's fetch is not used, and a bundled undici would be ~730 KB (docs/decisions.md).
      "undici",
      // The OpenAPI generator: the API serves the document generated at synth (below).
      "zod-openapi",
      // Build- and test-time only.
      "aws-cdk-lib",
      "constructs",
      "@aws-lambda-powertools/parser",
      "standardwebhooks",
    ];
    for (const [name, fn] of Object.entries(webhookFunctions())) {
      const { packages, inputs } = contentsOf(fn);
      for (const unwanted of neverBundled)
        expect(packages.has(unwanted), `${name} bundles ${unwanted}`).toBe(false);
      // The SDK's event-stream support is loaded lazily and only for event-stream operations, which
      // none of our three services has: it stays external (LAZY_SDK_EXTERNALS).
      const eventStreams = [...inputs.keys()].filter((input) => input.includes("/submodules/event-streams/"));
      expect(eventStreams, name).toEqual([]);
      // zod/mini only: classic zod's schema methods (and its JSON Schema converter) are a third of the
      // bundle and of the schema set-up at cold start (docs/decisions.md).
      const classicZod = [...inputs.keys()].filter((input) => input.includes("node_modules/zod/v4/classic/"));
      expect(classicZod, name).toEqual([]);
      // One copy of each package: two versions of one package would both count.
      const copies = new Map<string, Set<string>>();
      for (const input of inputs.keys()) {
        const at = input.lastIndexOf("node_modules/");
        if (at < 0) continue;
        const pkg = packageOf(input);
        const root = input.slice(0, at + "node_modules/".length + pkg.length);
        copies.set(pkg, (copies.get(pkg) ?? new Set()).add(root));
      }
      const duplicated = [...copies].filter(([, roots]) => roots.size > 1).map(([pkg]) => pkg);
      expect(duplicated, `${name}: packages bundled twice`).toEqual([]);
    }
  });

  it("imports every bundle with its environment without loading Node's undici (which a static node:http import pulls in)", () => {
    for (const [name, fn] of Object.entries(webhookFunctions())) {
      const variables = synth.template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment
        .Variables as Record<string, unknown>;
      // The template's references (queue URLs, table name) as the cold-start bench stands them in.
      const environment = Object.fromEntries(
        Object.entries(variables).map(([key, value]) => [
          key,
          typeof value === "string" ? value : PLACEHOLDERS[key],
        ]),
      );
      const bundle = pathToFileURL(join(assetDirOf(fn), "index.mjs")).href;
      const probe = spawnSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `await import(${JSON.stringify(bundle)}); process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => /undici/i.test(m))));`,
        ],
        {
          env: {
            PATH: process.env.PATH ?? "",
            AWS_REGION: "us-east-1",
            AWS_ACCESS_KEY_ID: "cold",
            AWS_SECRET_ACCESS_KEY: "cold",
            ...PLACEHOLDERS,
            ...environment,
          },
          encoding: "utf8",
        },
      );
      expect(probe.status, `${name}: ${probe.stderr}`).toBe(0);
      expect(JSON.parse(probe.stdout), name).toEqual([]);
    }
  });

  it("ships the OpenAPI document generated at synth beside the API bundle, where functions/api.ts reads it", () => {
    const shipped = readFileSync(join(assetDirOf(synth.stack.api.api), "openapi.json"), "utf8");
    expect(shipped).toBe(renderOpenApiDocument());
  });

  it("runs without --enable-source-maps, and a logged stack trace decodes offline to the sources", () => {
    const delivery = synth.template.toJSON().Resources[ids().delivery].Properties;
    expect(JSON.stringify(delivery.Environment)).not.toContain("enable-source-maps");
    const dir = join(synth.assemblyDir, `asset.${(delivery.Code.S3Key as string).replace(/\.zip$/, "")}`);
    // A cold start that fails on its config: the trace a function would log.
    const failed = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `await import(${JSON.stringify(pathToFileURL(join(dir, "index.mjs")).href)})`,
      ],
      { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8" },
    );
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toMatch(/index\.mjs:\d+:\d+/);
    const map = new SourceMap(JSON.parse(readFileSync(join(dir, "index.mjs.map"), "utf8")));
    const decoded = decodeStackTrace(failed.stderr, map);
    expect(decoded).toMatch(/at \S+ \(shared\/config\.ts:\d+:\d+\)/);
    expect(decoded).toMatch(/functions\/delivery\.ts:\d+:\d+/);
  });

  it("ships the customer portal beside the API function's bundle, where functions/api.ts reads it", () => {
    const asset = synth.template.toJSON().Resources[logicalIdOf(synth.stack.api.api.function)].Properties.Code
      .S3Key as string;
    const dir = join(synth.assemblyDir, `asset.${asset.replace(/\.zip$/, "")}`, "portal");
    const index = readFileSync(join(dir, "index.html"), "utf8");
    const script = /<script type="module" src="(app-[A-Z0-9]{8}\.js)">/.exec(index)?.[1];
    const stylesheet = /<link rel="stylesheet" href="(app-[A-Z0-9]{8}\.css)">/.exec(index)?.[1];
    expect(script, index).toBeDefined();
    expect(readFileSync(join(dir, script as string), "utf8")).toContain("Access key");
    expect(readFileSync(join(dir, stylesheet as string), "utf8").length).toBeGreaterThan(1000);
    // No inline script: the Content-Security-Policy forbids it.
    expect(index).not.toMatch(/<script(?![^>]*\bsrc=)/);
  });
});

describe("observability", () => {
  const alarms = () =>
    resourcesOfType(synth.template, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties ?? {});
  const alarmOn = (metricName: string, dimension: unknown) =>
    alarms().filter(
      (a) => a.MetricName === metricName && JSON.stringify(a.Dimensions).includes(JSON.stringify(dimension)),
    );

  it("alarms when a dead-letter or unroutable queue is not empty", () => {
    for (const id of [ids().deliveryDlq, ids().unroutable, ids().routerFailed, ids().ingestDlq]) {
      const [alarm, ...more] = alarmOn("ApproximateNumberOfMessagesVisible", {
        "Fn::GetAtt": [id, "QueueName"],
      });
      expect(more, id).toHaveLength(0);
      expect(alarm, id).toEqual(
        expect.objectContaining({
          Threshold: 1,
          ComparisonOperator: "GreaterThanOrEqualToThreshold",
          TreatMissingData: "ignore",
        }),
      );
    }
  });

  it("alarms on the age of the delivery queue's oldest message", () => {
    const [alarm] = alarmOn("ApproximateAgeOfOldestMessage", {
      "Fn::GetAtt": [ids().deliveryQueue, "QueueName"],
    });
    expect(alarm?.Threshold).toBe(oldestMessageAgeThresholdSeconds(DEFAULT_RETRY_SCHEDULE_SECONDS, 0.2));
  });

  it("alarms on router and delivery errors and throttles", () => {
    for (const id of [ids().router, ids().delivery]) {
      for (const metric of ["Errors", "Throttles"]) {
        const found = alarmOn(metric, { Name: "FunctionName", Value: refTo(id) });
        expect(found, `${id} ${metric}`).toHaveLength(1);
        expect(found[0]?.Namespace).toBe("AWS/Lambda");
      }
    }
  });

  it("alarms on jobs SQS's backstop moved that the scheduled reconciliation closed", () => {
    const [alarm] = alarms().filter((a) => a.MetricName === "DeliveryBackstopReconciled");
    expect(alarm).toEqual(
      expect.objectContaining({ Namespace: "VoipbinWebhooks", Statistic: "Sum", Threshold: 1 }),
    );
  });

  it("alarms on API 5xx", () => {
    const [alarm] = alarms().filter((a) => a.MetricName === "5xx");
    expect(alarm).toEqual(expect.objectContaining({ Namespace: "AWS/ApiGateway", Statistic: "Sum" }));
  });

  it("notifies the stage's own topic from every alarm, even with no e-mail configured", () => {
    const { logicalId: topic, resource } = onlyResource(synth.template, "AWS::SNS::Topic");
    expect(resource.Properties.TopicName).toBe("voipbin-webhooks-alarms-prod");
    synth.template.resourceCountIs("AWS::SNS::Subscription", 0);
    expect(alarms().length).toBeGreaterThanOrEqual(20);
    for (const alarm of alarms()) expect(alarm.AlarmActions, String(alarm.AlarmName)).toEqual([refTo(topic)]);
  });

  it("has a dashboard that shows every metric the handlers emit, and reads no other of theirs", () => {
    const { resource } = onlyResource(synth.template, "AWS::CloudWatch::Dashboard");
    const body = JSON.stringify(resource.Properties.DashboardBody);
    // Each dashboard metric is ["VoipbinWebhooks", "<name>", "service", "<function>", …].
    const shown = new Set(
      [...body.matchAll(/\\"VoipbinWebhooks\\",\\"([A-Za-z0-9_]+)\\",\\"service\\",\\"([a-z]+)\\"/g)].map(
        (m) => `${m[2]}/${m[1]}`,
      ),
    );
    const emitted = Object.entries(METRIC_NAMES).flatMap(([service, names]) =>
      Object.values(names).map((name) => `${service}/${name}`),
    );
    for (const name of emitted) expect(shown, name).toContain(name);
    // Outcome metrics are named by deliveryOutcomeMetric, whose argument the compiler holds to the
    // delivery service's outcomes; every other name must be one the handlers emit.
    expect(shown).toContain(`delivery/${deliveryOutcomeMetric("dead")}`);
    for (const name of shown) {
      if (!name.startsWith("delivery/Delivery_")) expect(emitted, name).toContain(name);
    }
    expect(body).toContain("ApproximateNumberOfMessagesVisible");
  });
});

describe("outputs", () => {
  it("names the bus, the API URL, the table and the queues", () => {
    const outputs = Object.keys(synth.template.toJSON().Outputs);
    expect(outputs).toEqual(
      expect.arrayContaining([
        "EventBusName",
        "EventBusArn",
        "ApiUrl",
        "TableName",
        "DeliveryQueueUrl",
        "DeliveryDlqUrl",
        "DeliveryBackstopUrl",
        "UnroutableQueueUrl",
        "RouterFailedQueueUrl",
        "IngestDlqUrl",
      ]),
    );
  });
});

describe("cdk-nag (AwsSolutions, through CDK's validation API)", () => {
  it("reports no unacknowledged error or warning (synth would have thrown on an error)", () => {
    const report = JSON.parse(readFileSync(join(synth.assemblyDir, "validation-report.json"), "utf8")) as {
      pluginReports: { pluginName: string; violations: { ruleName: string; severity: string }[] }[];
    };
    const findings = report.pluginReports.flatMap((r) =>
      r.violations.map((v) => `${r.pluginName} ${v.ruleName}`),
    );
    expect(findings).toEqual([]);
  });

  it("acknowledges only these findings, each with a specific reason", () => {
    const acknowledged: string[] = [];
    for (const construct of synth.stack.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          expect(reason.length, id).toBeGreaterThan(60);
          acknowledged.push(
            `${construct.node.path.replace(/^[^/]+\//, "")} ${id.replace(/^annotation::/i, "")}`,
          );
        }
      }
    }
    expect(acknowledged.sort()).toEqual(
      [
        "Observability/AlarmTopic AwsSolutions-SNS2",
        // The delivery records' table: no PITR by design (docs/data-model.md, "Splitting the delivery records out").
        "Deliveries/Table AwsSolutions-DDB3",
        "EventIngest/DeadLetterQueue AwsSolutions-SQS3",
        // No longer a redrive target (the backstop queue is): cdk-nag no longer recognises it.
        "Queues/DeliveryDlq AwsSolutions-SQS3",
        "Queues/UnroutableQueue AwsSolutions-SQS3",
        "Routing/FailedQueue AwsSolutions-SQS3",
        "SubscriptionsApi/HttpApi/GET--openapi.json AwsSolutions-APIG4",
        "SubscriptionsApi/HttpApi/GET--portal AwsSolutions-APIG4",
        "SubscriptionsApi/HttpApi/GET--portal--{proxy+} AwsSolutions-APIG4",
        "SubscriptionsApi/HttpApi/POST--v1--portal--sessions AwsSolutions-APIG4",
      ].sort(),
    );
  });
});
