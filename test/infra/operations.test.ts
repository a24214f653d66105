import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { METRIC_NAMES } from "#handlers/metrics.ts";
import { resourceNamesFor, TABLE_KEYS, TERMINAL_QUEUE_RETENTION_SECONDS } from "#shared/resources.ts";
import {
  IN_FLIGHT_ALARM_THRESHOLD,
  PARKED_MESSAGE_AGE_THRESHOLD_SECONDS,
  SQS_IN_FLIGHT_QUOTA,
} from "../../infra/constructs/observability.ts";
import { WebhooksStack } from "../../infra/stack.ts";
import {
  CDK_JSON,
  logicalIdOf,
  type Resource,
  resourcesOfType,
  type SynthesizedApp,
  synthesize,
} from "./app-fixture.ts";

/**
 * What an operator relies on when something breaks (issue 12): an alarm on every path that can lose
 * or stall a delivery, each notifying the one topic and naming the command that fixes it; stages
 * that can share an account; parked work kept in production stages.
 */
let synth: SynthesizedApp;
beforeAll(() => {
  synth = synthesize({}, { bundle: false });
});

type AlarmProps = Record<string, unknown> & { AlarmName: string; AlarmDescription: string };
const alarms = (template: Template = synth.template) =>
  resourcesOfType(template, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties as AlarmProps);
const alarmNamed = (id: string) => {
  const found = alarms().filter((a) => a.AlarmName === `voipbin-webhooks-prod-${id}`);
  expect(found, id).toHaveLength(1);
  return found[0] as AlarmProps;
};
const queueRef = (queue: Parameters<typeof logicalIdOf>[0]) => ({
  "Fn::GetAtt": [logicalIdOf(queue), "QueueName"],
});

describe("alarms on every loss or stall path", () => {
  it("no alarm on the router's asynchronous invocations: nothing of the product invokes it so", () => {
    // Events reach the router through its queue; ops redrives invoke it synchronously (scripts/ops.ts).
    for (const metric of ["AsyncEventsDropped", "DestinationDeliveryFailures", "AsyncEventAge"]) {
      expect(
        alarms().filter((a) => a.MetricName === metric),
        metric,
      ).toEqual([]);
    }
  });

  it("each rule's failed invocations and failed DLQ sends, with the custom bus's dimensions", () => {
    for (const [id, metric, ruleOf] of [
      ["IngestFailedInvocations", "FailedInvocations", synth.stack.ingest.rule],
      ["IngestDlqSendFailures", "InvocationsFailedToBeSentToDlq", synth.stack.ingest.rule],
      ["IngestUngroupedFailedInvocations", "FailedInvocations", synth.stack.ingest.ungroupedRule],
      ["IngestUngroupedDlqSendFailures", "InvocationsFailedToBeSentToDlq", synth.stack.ingest.ungroupedRule],
    ] as const) {
      const rule = { Ref: logicalIdOf(ruleOf) };
      const alarm = alarmNamed(id);
      expect(alarm.Namespace).toBe("AWS/Events");
      expect(alarm.MetricName).toBe(metric);
      expect(alarm.Dimensions).toEqual([
        { Name: "EventBusName", Value: "voipbin-events-prod" },
        { Name: "RuleName", Value: rule },
      ]);
    }
  });

  it("our own delivery errors, from the metric the delivery handler emits (its Lambda Errors stay 0)", () => {
    expect(alarmNamed("DeliveryInternalErrors")).toEqual(
      expect.objectContaining({
        Namespace: "VoipbinWebhooks",
        MetricName: METRIC_NAMES.delivery.internalErrors,
        Dimensions: [{ Name: "service", Value: "delivery" }],
        Threshold: 1,
      }),
    );
  });

  it("DynamoDB throttling on the main table, on GSI1 and on the deliveries table", () => {
    const alarm = alarmNamed("TableThrottled");
    const metrics = alarm.Metrics as {
      Id: string;
      MetricStat?: { Metric: Record<string, unknown> };
      Expression?: string;
    }[];
    const stats = metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric] : []));
    expect(stats.map((m) => m.MetricName).sort()).toEqual([
      "ReadThrottleEvents",
      "ReadThrottleEvents",
      "ReadThrottleEvents",
      "WriteThrottleEvents",
      "WriteThrottleEvents",
      "WriteThrottleEvents",
    ]);
    for (const metric of stats) expect(metric.Namespace).toBe("AWS/DynamoDB");
    expect(JSON.stringify(stats)).toContain(TABLE_KEYS.gsi1.indexName);
    // Both tables, by their references in the template.
    const tableRefs = new Set(
      stats.map((m) =>
        JSON.stringify(
          (m.Dimensions as { Name: string; Value: unknown }[]).find((d) => d.Name === "TableName")?.Value,
        ),
      ),
    );
    expect(tableRefs.size).toBe(2);
    expect(metrics.find((m) => m.Expression)?.Expression).toMatch(
      /tableReads.*tableWrites.*gsiReads.*gsiWrites.*deliveriesReads.*deliveriesWrites/,
    );
  });

  it("the delivery backlog's age", () => {
    const alarm = alarmNamed("DeliveryQueueOldestMessage");
    expect(alarm.MetricName).toBe("ApproximateAgeOfOldestMessage");
    expect(alarm.Dimensions).toEqual([
      { Name: "QueueName", Value: queueRef(synth.stack.queues.deliveryQueue) },
    ]);
  });

  it("the age of the oldest parked message on each terminal queue, well before SQS deletes it", () => {
    const { stack } = synth;
    for (const [id, queue] of [
      ["DeliveryDlqOldestMessage", stack.queues.deliveryDlq],
      ["UnroutableOldestMessage", stack.queues.unroutableQueue],
      ["RouterFailedOldestMessage", stack.routing.failedQueue],
      ["IngestDlqOldestMessage", stack.ingest.deadLetterQueue],
    ] as const) {
      const alarm = alarmNamed(id);
      expect(alarm.MetricName, id).toBe("ApproximateAgeOfOldestMessage");
      expect(alarm.Dimensions, id).toEqual([{ Name: "QueueName", Value: queueRef(queue) }]);
      expect(alarm.Threshold, id).toBe(PARKED_MESSAGE_AGE_THRESHOLD_SECONDS);
      expect(PARKED_MESSAGE_AGE_THRESHOLD_SECONDS).toBeLessThan(
        TERMINAL_QUEUE_RETENTION_SECONDS - 2 * 86_400,
      );
    }
  });

  it("in flight approaching SQS's 120,000 quota, on every queue an event source mapping reads", () => {
    expect(resourcesOfType(synth.template, "AWS::SQS::Queue")).toHaveLength(8);
    const stack = synth.stack;
    const read = [stack.queues.deliveryQueue, stack.queues.slowDeliveryQueue, stack.routing.queue].map(
      (queue) => logicalIdOf(queue),
    );
    const inFlight = alarms().filter((a) => a.MetricName === "ApproximateNumberOfMessagesNotVisible");
    // The parked queues and the backstop queue are read by an operator's command or the
    // reconciliation only: no in-flight alarm (docs/decisions.md, "CloudWatch's fixed costs").
    expect(inFlight).toHaveLength(read.length);
    for (const id of read) {
      const mine = inFlight.filter(
        (a) =>
          JSON.stringify(a.Dimensions) ===
          JSON.stringify([{ Name: "QueueName", Value: { "Fn::GetAtt": [id, "QueueName"] } }]),
      );
      expect(mine, id).toHaveLength(1);
      expect(mine[0], id).toEqual(
        expect.objectContaining({
          Namespace: "AWS/SQS",
          Statistic: "Maximum",
          Threshold: 96_000,
          ComparisonOperator: "GreaterThanOrEqualToThreshold",
          TreatMissingData: "notBreaching",
        }),
      );
    }
    expect(IN_FLIGHT_ALARM_THRESHOLD).toBeLessThan(SQS_IN_FLIGHT_QUOTA);
    expect(alarmNamed("DeliveryQueueInFlight").Dimensions).toEqual([
      { Name: "QueueName", Value: queueRef(synth.stack.queues.deliveryQueue) },
    ]);
    expect(alarmNamed("SlowDeliveryQueueInFlight").Dimensions).toEqual([
      { Name: "QueueName", Value: queueRef(synth.stack.queues.slowDeliveryQueue) },
    ]);
  });

  it("the dashboard shows every queue's in-flight count", () => {
    const dashboard = JSON.stringify(resourcesOfType(synth.template, "AWS::CloudWatch::Dashboard")[0]?.[1]);
    const queues = resourcesOfType(synth.template, "AWS::SQS::Queue");
    // One series per queue, each with its queue's name reference.
    expect(dashboard.match(/ApproximateNumberOfMessagesNotVisible/g)?.length).toBeGreaterThanOrEqual(
      queues.length,
    );
    for (const [id] of queues) expect(dashboard, id).toContain(id);
  });

  it("re-notifies on each new dead letter (not only while the DLQ is non-empty)", () => {
    const alarm = alarmNamed("DeliveryDlqNewMessages");
    const metrics = alarm.Metrics as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: Record<string, unknown> };
    }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe("DIFF(visible)");
    expect(metrics.find((m) => m.Id === "visible")?.MetricStat?.Metric).toEqual(
      expect.objectContaining({
        MetricName: "ApproximateNumberOfMessagesVisible",
        Dimensions: [{ Name: "QueueName", Value: queueRef(synth.stack.queues.deliveryDlq) }],
      }),
    );
    expect(alarm.TreatMissingData).toBe("notBreaching");
    expect(alarm.OKActions).toBeUndefined();
    expect(alarm.AlarmActions).toHaveLength(1);
  });

  it("every alarm's description names the exact ops command or what to check", () => {
    const commands: Record<string, string> = {
      DeliveryDlqNotEmpty: "npm run ops -- dead-letters redrive --aws --stage prod",
      DeliveryDlqNewMessages: "npm run ops -- dead-letters list --aws --stage prod",
      DeliveryDlqOldestMessage: "npm run ops -- dead-letters redrive --aws --stage prod",
      UnroutableNotEmpty: "npm run ops -- unroutable redrive --aws --stage prod",
      UnroutableOldestMessage: "npm run ops -- unroutable redrive --aws --stage prod",
      RouterFailedNotEmpty: "npm run ops -- router-failed redrive --aws --stage prod",
      RouterFailedOldestMessage: "npm run ops -- router-failed redrive --aws --stage prod",
      IngestDlqNotEmpty: "npm run ops -- ingest-dlq redrive --aws --stage prod",
      IngestDlqOldestMessage: "npm run ops -- ingest-dlq redrive --aws --stage prod",
      IngestFailedInvocations: "npm run ops -- ingest-dlq list --aws --stage prod",
      IngestUngroupedFailedInvocations: "npm run ops -- ingest-dlq list --aws --stage prod",
      RouterQueueOldestMessage: "npm run ops -- router-failed list --aws --stage prod",
      RouterErrors: "npm run ops -- router-failed list --aws --stage prod",
    };
    for (const [id, command] of Object.entries(commands)) {
      expect(alarmNamed(id).AlarmDescription, id).toContain(command);
    }
    for (const alarm of alarms()) expect(alarm.AlarmDescription.length, alarm.AlarmName).toBeGreaterThan(80);
  });

  it("has the alarms docs/deploy.md documents, each with its runbook step", async () => {
    const { readFile } = await import("node:fs/promises");
    const doc = await readFile(new URL("../../docs/deploy.md", import.meta.url), "utf8");
    for (const alarm of alarms()) {
      const id = alarm.AlarmName.replace("voipbin-webhooks-prod-", "");
      expect(doc, id).toMatch(new RegExp(`\\| \`${id}\` \\|[^\\n]+\\|[^\\n]+\\|`));
    }
  });
});

describe("stages in one account", () => {
  /** The physical-name property of each named resource type. */
  const NAME_PROPERTY: Record<string, string> = {
    "AWS::Events::EventBus": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::ApiGatewayV2::Api": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
  };
  let templates: { stage: string; template: Template }[];
  beforeAll(() => {
    const app = new App({ context: { ...CDK_JSON.context, "aws:cdk:bundling-stacks": [] } });
    const stacks = ["prod", "staging"].map(
      (stage) => [stage, new WebhooksStack(app, `VoipbinWebhooks-${stage}`, { stage })] as const,
    );
    app.synth();
    templates = stacks.map(([stage, stack]) => ({ stage, template: Template.fromStack(stack) }));
  });

  it("every named resource carries its stage, and no physical name is used twice", () => {
    const seen = new Map<string, string>();
    for (const { stage, template } of templates) {
      for (const [type, property] of Object.entries(NAME_PROPERTY)) {
        for (const [id, resource] of resourcesOfType(template, type)) {
          const name = (resource as Resource).Properties[property];
          expect(typeof name, `${stage} ${id} ${property}`).toBe("string");
          expect(name as string, `${stage} ${id}`).toContain(stage);
          const key = `${type} ${name as string}`;
          expect(seen.get(key), `${key} is in ${seen.get(key)} and ${stage}`).toBeUndefined();
          seen.set(key, stage);
        }
      }
    }
    // Both stacks have every kind of named resource, so the check above covered each.
    for (const type of Object.keys(NAME_PROPERTY)) {
      expect([...seen.keys()].filter((k) => k.startsWith(`${type} `)).length, type).toBeGreaterThanOrEqual(2);
    }
  });

  it("names come from resourceNamesFor, the module the ops CLI reads them from", () => {
    const names = resourceNamesFor("staging");
    const template = templates.find((t) => t.stage === "staging")?.template as Template;
    template.hasResourceProperties("AWS::Lambda::Function", { FunctionName: names.functions.router });
    template.hasResourceProperties("AWS::SQS::Queue", { QueueName: names.routerFailedQueue });
    template.hasResourceProperties("AWS::SQS::Queue", { QueueName: names.ingestDlq });
    template.hasResourceProperties("AWS::Events::EventBus", { Name: names.eventBus });
  });
});

describe("parked work outlives the stack in production stages", () => {
  const policies = (template: Template) =>
    Object.fromEntries(
      resourcesOfType(template, "AWS::SQS::Queue").map(([, q]) => [
        q.Properties.QueueName as string,
        q.DeletionPolicy as string | undefined,
      ]),
    );

  it("retains the DLQ, backstop, unroutable, router-failed and ingest DLQ queues (except when their first deploy rolls back)", () => {
    const n = resourceNamesFor("prod");
    expect(policies(synth.template)).toEqual({
      [n.deliveryQueue]: "Delete",
      // The router queue holds events on their way, as the delivery queue holds live jobs.
      [n.routerQueue]: "Delete",
      // The slow lane holds live jobs, as the delivery queue does: not parked work.
      [n.slowDeliveryQueue]: "Delete",
      [n.deliveryDlq]: "RetainExceptOnCreate",
      // Backstop arrivals are parked work until the next reconciliation pass.
      [n.deliveryBackstop]: "RetainExceptOnCreate",
      [n.unroutableQueue]: "RetainExceptOnCreate",
      [n.routerFailedQueue]: "RetainExceptOnCreate",
      [n.ingestDlq]: "RetainExceptOnCreate",
    });
    for (const [id, group] of resourcesOfType(synth.template, "AWS::Logs::LogGroup")) {
      expect(group.DeletionPolicy, id).toBe("RetainExceptOnCreate");
    }
  });

  it("destroys them with a dev stage", () => {
    const { template } = synthesize({ stage: "dev-alice" }, { bundle: false });
    for (const [name, policy] of Object.entries(policies(template))) expect(policy, name).toBe("Delete");
  });
});
