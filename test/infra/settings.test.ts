import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { configSchema, DEFAULT_RETRY_SCHEDULE_SECONDS, loadConfig } from "#shared/config.ts";
import { DELIVERY_BATCHING_WINDOW_SECONDS } from "#shared/resources.ts";
import { oldestMessageAgeThresholdSeconds } from "../../infra/constructs/observability.ts";
import { createApp } from "../../infra/create-app.ts";
import {
  functionSettingsEnvironment,
  InvalidSettingsError,
  resolveSettings,
  resolveSettingsFromContext,
  SETTING_KEYS,
  SETTINGS,
  settingsAsProps,
} from "../../infra/settings.ts";
import { WebhooksStack } from "../../infra/stack.ts";
import { renderConfigurationDoc } from "../../scripts/configuration-doc.ts";
import {
  arnOf,
  CDK_JSON,
  logicalIdOf,
  onlyResource,
  refTo,
  resourcesOfType,
  type SynthesizedApp,
  synthesize,
} from "./app-fixture.ts";

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidSettingsError) return error.problems;
    throw error;
  }
  throw new Error("expected an InvalidSettingsError");
}

describe("settings", () => {
  it("default to what the functions default to", () => {
    const settings = resolveSettings({});
    const config = loadConfig({
      TABLE_NAME: "table",
      DELIVERIES_TABLE_NAME: "deliveries",
      DELIVERY_QUEUE_URL: "https://q/1",
      DELIVERY_DLQ_URL: "https://q/3",
      DELIVERY_BACKSTOP_QUEUE_URL: "https://q/4",
      UNROUTABLE_QUEUE_URL: "https://q/2",
    });
    expect(settings).toEqual(
      expect.objectContaining({
        stage: "prod",
        isDevStage: false,
        eventBusName: `${config.EVENT_BUS_NAME}-prod`,
        attachToExistingBus: false,
        retrySchedule: DEFAULT_RETRY_SCHEDULE_SECONDS,
        retryJitter: config.RETRY_JITTER,
        deliveryTimeoutMs: config.DELIVERY_TIMEOUT_MS,
        allowedCidrs: config.ALLOWED_CIDRS,
        allowHttpUrls: config.ALLOW_HTTP_URLS,
        maxSubscriptionsPerCustomer: config.MAX_SUBSCRIPTIONS_PER_CUSTOMER,
        autoDisableAfterSeconds: config.AUTO_DISABLE_AFTER_SECONDS,
        deliveryRetentionDays: config.DELIVERY_RETENTION_DAYS,
        secretRotationOverlapSeconds: config.SECRET_ROTATION_OVERLAP_SECONDS,
        corsAllowedOrigins: [],
        // Lean defaults (docs/decisions.md, issue 22): no X-Ray, no platform log lines, on-demand.
        tracing: false,
        systemLogLevel: "WARN",
        capacityMode: "on-demand",
        deliveryBatchingWindowSeconds: DELIVERY_BATCHING_WINDOW_SECONDS,
      }),
    );
  });

  it("accept context strings as well as typed props", () => {
    const fromContext = resolveSettingsFromContext({
      stage: "dev-alice",
      retrySchedule: "1, 2,4",
      allowedCidrs: "10.0.0.0/8,fd00::/8",
      allowHttpUrls: "true",
      deliveryMaxConcurrency: "5",
      tracing: "false",
      corsAllowedOrigins: "https://app.example.com",
      "@aws-cdk/core:someFlag": true,
      "aws:cdk:bundling-stacks": [],
      "cli-telemetry": false,
    });
    const fromProps = resolveSettings({
      stage: "dev-alice",
      retrySchedule: [1, 2, 4],
      allowedCidrs: ["10.0.0.0/8", "fd00::/8"],
      allowHttpUrls: true,
      deliveryMaxConcurrency: 5,
      tracing: false,
      corsAllowedOrigins: ["https://app.example.com"],
    });
    expect(fromContext).toEqual(fromProps);
    expect(fromContext.isDevStage).toBe(true);
  });

  it("invalid props throw one error listing every problem, before any construct is built", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const problems = problemsOf(
      () =>
        new WebhooksStack(app, "Bad", {
          stage: "Prod!",
          retrySchedule: [5, -1, 99_999],
          retryJitter: 0.9,
          deliveryTimeoutMs: 55_000,
          allowedCidrs: ["10.0.0.0/33"],
          maxSubscriptionsPerCustomer: 0,
          deliveryMaxConcurrency: 1,
          routerReservedConcurrency: 0,
          logRetentionDays: 8,
          alarmEmail: "ops-at-example",
          alarmTopicArn: "arn:aws:sqs:us-east-1:123456789012:not-a-topic",
          corsAllowedOrigins: ["app.example.com"],
          apiRateLimit: 0,
        }),
    );
    const keys = [
      "stage",
      "retrySchedule",
      "retryJitter",
      "deliveryTimeoutMs",
      "allowedCidrs",
      "maxSubscriptionsPerCustomer",
      "deliveryMaxConcurrency",
      "routerReservedConcurrency",
      "logRetentionDays",
      "alarmEmail",
      "alarmTopicArn",
      "corsAllowedOrigins",
      "apiRateLimit",
      "alarmEmail and alarmTopicArn",
    ];
    for (const key of keys)
      expect(
        problems.some((p) => p.startsWith(`${key}`)),
        key,
      ).toBe(true);
    expect(problems).toHaveLength(keys.length);
    expect(problems.find((p) => p.startsWith("retrySchedule"))).toContain('"-1", "99999"');
    expect(problems.find((p) => p.startsWith("deliveryTimeoutMs"))).toContain("at most 45000");
    expect(app.node.children).toHaveLength(0);
  });

  it("the error message names every problem", () => {
    expect(() =>
      resolveSettings({ retryJitter: "lots", eventBusName: "a", existingEventBusName: "b" }),
    ).toThrow(
      /Invalid voipbin-webhooks settings \(2\):\n {2}- retryJitter: .*\n {2}- eventBusName and existingEventBusName/,
    );
  });

  it("a misspelt context key is a problem, not a silent default", () => {
    const problems = problemsOf(() =>
      createApp({ context: { ...CDK_JSON.context, retrySchedul: "1,2", deliveryTimeoutMs: "soon" } }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^retrySchedul: not a setting \(settings are: stage, .*retrySchedule/),
      expect.stringMatching(/^deliveryTimeoutMs: .*\(got "soon"\)$/),
    ]);
  });

  it("the age-of-oldest-message threshold covers the first two retries with jitter and Retry-After", () => {
    expect(oldestMessageAgeThresholdSeconds(DEFAULT_RETRY_SCHEDULE_SECONDS, 0.2)).toBe(
      Math.ceil(2 * 1.2 * 305) + 600,
    );
    expect(oldestMessageAgeThresholdSeconds([1, 2], 0.2)).toBe(15 * 60);
    expect(oldestMessageAgeThresholdSeconds([3600, 7200], 0)).toBe(2 * 10_800 + 600);
  });
});

describe("the settings list", () => {
  it("resolved settings turn back into props that resolve to the same settings", () => {
    const settings = resolveSettingsFromContext({
      stage: "dev-x",
      retrySchedule: "1,2",
      allowedCidrs: "10.0.0.0/8",
    });
    expect(resolveSettings(settingsAsProps(settings) as Record<string, unknown>)).toEqual(settings);
  });

  it("every setting with a function variable reaches the functions' environment as that variable", () => {
    // payloadRetentionDays has no default (unset: a day beyond the records), so it is set here.
    const settings = resolveSettings({
      allowedCidrs: ["10.0.0.0/8"],
      recoverTimeBudgetMs: 15_000,
      payloadRetentionDays: 7,
    });
    const env = functionSettingsEnvironment(settings);
    for (const key of SETTING_KEYS) {
      const variable = (SETTINGS[key] as { env?: string }).env;
      if (variable !== undefined) expect(Object.keys(env), key).toContain(variable);
    }
    expect(env.RECOVER_TIME_BUDGET_MS).toBe("15000");
    // And what the functions parse is what was set.
    const config = loadConfig({
      TABLE_NAME: "table",
      DELIVERIES_TABLE_NAME: "deliveries",
      DELIVERY_QUEUE_URL: "https://q/1",
      DELIVERY_DLQ_URL: "https://q/3",
      DELIVERY_BACKSTOP_QUEUE_URL: "https://q/4",
      UNROUTABLE_QUEUE_URL: "https://q/2",
      ...env,
    });
    expect(config.ALLOWED_CIDRS).toEqual(["10.0.0.0/8"]);
    expect(config.RECOVER_TIME_BUDGET_MS).toBe(15_000);
    expect(config.PAYLOAD_RETENTION_DAYS).toBe(7);
    expect(config.RETRY_SCHEDULE).toEqual(settings.retrySchedule);
  });

  it("reserves the delivery function's mappings' concurrency plus one unless told, and refuses less", () => {
    expect(resolveSettings({}).deliveryReservedConcurrency).toBe(26);
    expect(
      resolveSettings({ deliveryMaxConcurrency: 100, slowLaneMaxConcurrency: 10 })
        .deliveryReservedConcurrency,
    ).toBe(111);
    expect(resolveSettings({ deliveryReservedConcurrency: 26 }).deliveryReservedConcurrency).toBe(26);
    expect(
      problemsOf(() => resolveSettings({ deliveryMaxConcurrency: "50", deliveryReservedConcurrency: "55" })),
    ).toEqual([
      expect.stringMatching(
        /^deliveryReservedConcurrency: must be at least 56 \(deliveryMaxConcurrency 50 \+ slowLaneMaxConcurrency 5 \+ 1 for the backstop pass\)/,
      ),
    ]);
    // The router's mapping likewise: a reservation below its maximum concurrency throttles its batches.
    expect(problemsOf(() => resolveSettings({ routerReservedConcurrency: 19 }))).toEqual([
      "routerReservedConcurrency: must be at least 20 (got 19)",
    ]);
    expect(problemsOf(() => resolveSettings({ deliveryMaxConcurrency: "1001" }))).toEqual([
      'deliveryMaxConcurrency: must be at most 1000 (got "1001")',
    ]);
    expect(resolveSettings({ routerReservedConcurrency: 20 }).routerReservedConcurrency).toBe(20);
    // Listed with the other problems, not instead of them.
    expect(
      problemsOf(() => resolveSettings({ deliveryReservedConcurrency: 4, apiRateLimit: 0 })),
    ).toHaveLength(2);
  });

  it("refuses a recover budget the API function could not finish within", () => {
    expect(problemsOf(() => resolveSettings({ recoverTimeBudgetMs: 28_000 }))).toEqual([
      expect.stringMatching(
        /^recoverTimeBudgetMs: must be at most 25000 \(the API function times out after 29 s\)/,
      ),
    ]);
  });
});

describe("docs/configuration.md", () => {
  const committed = () => readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

  it("is what `npm run docs:config` generates (run it after changing a setting or a variable)", () => {
    expect(committed()).toBe(renderConfigurationDoc());
  });

  it("lists every setting and every variable of the functions' schema", () => {
    for (const key of [...SETTING_KEYS, ...Object.keys(configSchema.shape)]) {
      expect(committed(), key).toContain(`| \`${key}\` |`);
    }
    expect(committed()).toContain("| `RECOVER_TIME_BUDGET_MS` | `20000` | `recoverTimeBudgetMs` |");
  });
});

describe("cdk.json", () => {
  it("runs the app with tsx, keeps telemetry off, and sets no setting (the code's defaults apply)", () => {
    expect(CDK_JSON.app).toBe("npx tsx infra/app.ts");
    expect(CDK_JSON.context["cli-telemetry"]).toBe(false);
    expect(() => resolveSettingsFromContext(CDK_JSON.context)).not.toThrow();
    expect(Object.keys(CDK_JSON.context).filter((key) => /^[a-z][A-Za-z0-9]*$/.test(key))).toEqual([]);
  });

  it("npm scripts wrap the CLI without notices", () => {
    const { scripts } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(scripts.synth).toBe("cdk synth --no-notices --quiet");
    expect(scripts.diff).toMatch(/^cdk diff --no-notices/);
    expect(scripts.deploy).toMatch(/^cdk deploy --no-notices/);
  });
});

describe("a dev stage attached to an existing bus, with a short schedule, alarm e-mail and CORS", () => {
  // Context strings, as `cdk synth -c key=value` passes them. Not bundled: same code as the main synth.
  let synth: SynthesizedApp;
  beforeAll(() => {
    synth = synthesize(
      {
        stage: "dev",
        existingEventBusName: "default",
        retrySchedule: "1,2,4",
        alarmEmail: "ops@example.com",
        corsAllowedOrigins: "https://console.example.com",
        routerReservedConcurrency: "50",
        deliveryMaxConcurrency: "5",
        allowedCidrs: "10.0.0.0/8",
        logRetentionDays: "7",
      },
      { bundle: false },
    );
  });

  it("is named for the stage and can be destroyed", () => {
    expect(synth.stack.stackName).toBe("VoipbinWebhooks-dev");
    expect(synth.stack.terminationProtection).toBe(false);
    synth.template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Delete",
      Properties: { TableName: "voipbin-webhooks-dev", DeletionProtectionEnabled: false },
    });
    for (const [id, group] of resourcesOfType(synth.template, "AWS::Logs::LogGroup")) {
      expect(group.DeletionPolicy, id).toBe("Delete");
      expect(group.Properties.RetentionInDays, id).toBe(7);
    }
  });

  it("attaches to the existing bus instead of creating one", () => {
    synth.template.resourceCountIs("AWS::Events::EventBus", 0);
    const rules = resourcesOfType(synth.template, "AWS::Events::Rule").filter(
      ([, rule]) => rule.Properties.EventPattern !== undefined,
    );
    expect(rules).toHaveLength(2);
    for (const [, rule] of rules) expect(rule.Properties.EventBusName).toBe("default");
    const policies = JSON.stringify(synth.template.findResources("AWS::IAM::Policy"));
    expect(policies).toContain(":event-bus/default");
  });

  it("passes the retry schedule to the functions; the redrive backstop does not depend on it", () => {
    synth.template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "voipbin-webhooks-delivery-dev",
      RedrivePolicy: {
        deadLetterTargetArn: arnOf(logicalIdOf(synth.stack.queues.deliveryBackstop)),
        // Receives that went wrong, whatever the schedule (DELIVERY_MAX_RECEIVE_COUNT).
        maxReceiveCount: 35,
      },
    });
    for (const [id, fn] of resourcesOfType(synth.template, "AWS::Lambda::Function")) {
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.RETRY_SCHEDULE, id).toBe("1,2,4");
      expect(env.ALLOWED_CIDRS, id).toBe("10.0.0.0/8");
      expect(env.EVENT_BUS_NAME, id).toBe("default");
    }
    synth.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateAgeOfOldestMessage",
      Threshold: oldestMessageAgeThresholdSeconds([1, 2, 4], 0.2),
    });
  });

  it("sends every alarm to a TLS-only topic with the e-mail subscribed", () => {
    const { logicalId: topic } = onlyResource(synth.template, "AWS::SNS::Topic");
    synth.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.com",
      TopicArn: refTo(topic),
    });
    expect(JSON.stringify(synth.template.findResources("AWS::SNS::TopicPolicy"))).toContain(
      "aws:SecureTransport",
    );
    const alarms = resourcesOfType(synth.template, "AWS::CloudWatch::Alarm");
    expect(alarms.length).toBeGreaterThanOrEqual(20);
    for (const [id, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions, id).toEqual([refTo(topic)]);
      // Every alarm says when it is over, except the one that fires once per new dead letter.
      if (alarm.Properties.AlarmName === "voipbin-webhooks-dev-DeliveryDlqNewMessages") {
        expect(alarm.Properties.OKActions, id).toBeUndefined();
      } else {
        expect(alarm.Properties.OKActions, id).toEqual([refTo(topic)]);
      }
    }
  });

  it("configures CORS, router reserved concurrency and delivery concurrency", () => {
    const { resource } = onlyResource(synth.template, "AWS::ApiGatewayV2::Api");
    expect(resource.Properties.CorsConfiguration).toEqual(
      expect.objectContaining({ AllowOrigins: ["https://console.example.com"] }),
    );
    synth.template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: { POWERTOOLS_SERVICE_NAME: "router" } },
      ReservedConcurrentExecutions: 50,
    });
    synth.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    // Derived from the lanes: 5 + 5 + 1.
    synth.template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: { POWERTOOLS_SERVICE_NAME: "delivery" } },
      ReservedConcurrentExecutions: 11,
    });
  });
});

describe("alarms to an existing topic", () => {
  it("uses the topic and creates none", () => {
    const topicArn = "arn:aws:sns:eu-west-1:123456789012:ops-alarms";
    const { template } = synthesize({ alarmTopicArn: topicArn }, { bundle: false });
    template.resourceCountIs("AWS::SNS::Topic", 0);
    for (const [id, alarm] of resourcesOfType(template, "AWS::CloudWatch::Alarm")) {
      expect(alarm.Properties.AlarmActions, id).toEqual([topicArn]);
    }
    for (const [id, fn] of resourcesOfType(template, "AWS::Lambda::Function")) {
      expect(fn.Properties.TracingConfig, id).toBeUndefined();
    }
    expect(JSON.stringify(template.findResources("AWS::IAM::Policy"))).not.toContain("xray:");
  });
});

describe("X-Ray tracing switched on", () => {
  it("traces every function, with the X-Ray permissions its role needs (cdk-nag acknowledged)", () => {
    const { template } = synthesize({ tracing: "true" }, { bundle: false });
    for (const [id, fn] of resourcesOfType(template, "AWS::Lambda::Function")) {
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: "Active" });
    }
    expect(JSON.stringify(template.findResources("AWS::IAM::Policy"))).toContain("xray:PutTraceSegments");
  });
});

describe("DynamoDB capacity", () => {
  it("is on-demand by default, without auto scaling", () => {
    const { template } = synthesize({}, { bundle: false });
    template.hasResourceProperties("AWS::DynamoDB::Table", { BillingMode: "PAY_PER_REQUEST" });
    template.resourceCountIs("AWS::ApplicationAutoScaling::ScalableTarget", 0);
  });

  it("provisioned: the deliveries table starts at the minimums and scales reads and writes on utilisation; the main table stays on-demand", () => {
    const { template } = synthesize(
      {
        capacityMode: "provisioned",
        provisionedTargetUtilization: "60",
        provisionedMinWriteCapacity: "7",
        provisionedMaxWriteCapacity: "900",
        warmWriteUnitsPerSecond: "5000",
      },
      { bundle: false },
    );
    const tables = resourcesOfType(template, "AWS::DynamoDB::Table");
    const main = tables.find(([id]) => id.startsWith("Storage"))?.[1].Properties ?? {};
    const props = tables.find(([id]) => id.startsWith("Deliveries"))?.[1].Properties ?? {};
    // The main table's traffic is too small for a provisioned floor to pay (docs/decisions.md).
    expect(main.BillingMode).toBe("PAY_PER_REQUEST");
    expect(main.ProvisionedThroughput).toBeUndefined();
    expect(props.BillingMode ?? "PROVISIONED").toBe("PROVISIONED");
    expect(props.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 5, WriteCapacityUnits: 7 });
    expect(props.GlobalSecondaryIndexes).toBeUndefined();
    expect(props.WarmThroughput).toEqual({ WriteUnitsPerSecond: 5000 });
    const targets = resourcesOfType(template, "AWS::ApplicationAutoScaling::ScalableTarget").map(([, t]) => [
      t.Properties.ScalableDimension,
      t.Properties.MinCapacity,
      t.Properties.MaxCapacity,
    ]);
    expect(targets.sort()).toEqual(
      [
        ["dynamodb:table:ReadCapacityUnits", 5, 4000],
        ["dynamodb:table:WriteCapacityUnits", 7, 900],
      ].sort(),
    );
    for (const [id, policy] of resourcesOfType(template, "AWS::ApplicationAutoScaling::ScalingPolicy")) {
      expect(
        (policy.Properties.TargetTrackingScalingPolicyConfiguration as { TargetValue: number }).TargetValue,
        id,
      ).toBe(60);
    }
  });

  it("rejects provisioned settings without provisioned capacity, and minimums above maximums, together", () => {
    expect(() =>
      resolveSettings({ provisionedMinWriteCapacity: 5, provisionedTargetUtilization: 50 }),
    ).toThrow(
      /provisionedTargetUtilization, provisionedMinWriteCapacity: only with capacityMode=provisioned/,
    );
    const problems = problemsOf(() =>
      resolveSettings({
        capacityMode: "provisioned",
        provisionedMinWriteCapacity: 50,
        provisionedMaxWriteCapacity: 10,
        provisionedMinReadCapacity: 9,
        provisionedMaxReadCapacity: 8,
        provisionedTargetUtilization: 95,
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^provisionedTargetUtilization: .*90/),
      "provisionedMinWriteCapacity (50) must not exceed provisionedMaxWriteCapacity (10)",
      "provisionedMinReadCapacity (9) must not exceed provisionedMaxReadCapacity (8)",
    ]);
  });
});

describe("the cdk-nag check", () => {
  it("fails the synth on an unacknowledged finding (the mechanism the stack test relies on)", () => {
    const { app, stack } = createApp({ context: { ...CDK_JSON.context, "aws:cdk:bundling-stacks": [] } });
    new sqs.Queue(stack, "QueueWithoutDlqOrTls");
    expect(() => app.synth()).toThrow(
      /AwsSolutions-SQS3[\s\S]*AwsSolutions-SQS4|AwsSolutions-SQS4[\s\S]*AwsSolutions-SQS3/,
    );
  });
});
