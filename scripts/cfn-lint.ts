/**
 * `npm run lint:cfn`: cfn-lint (the CloudFormation resource-specification linter, a Python tool)
 * over every template the CDK app synthesizes, in the variants the settings can produce: the default
 * production stage, and a dev stage attached to the default bus with every optional setting on.
 * Fails on any cfn-lint error (warnings are printed, not fatal). Where cfn-lint is not installed it
 * says so and exits 0, so a machine without Python still runs the rest of CI (docs/deploy.md).
 *
 *   npm run lint:cfn
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createApp } from "../infra/create-app.ts";

/** cdk.json's context (the feature flags), as `cdk synth` applies it. */
const CDK_CONTEXT = (
  JSON.parse(readFileSync(new URL("../cdk.json", import.meta.url), "utf8")) as {
    context: Record<string, unknown>;
  }
).context;

/** The settings variants whose templates are linted (each synthesizes one stack). */
const LINTED_VARIANTS: readonly Readonly<Record<string, string>>[] = [
  {},
  {
    stage: "dev-lint",
    existingEventBusName: "default",
    alarmEmail: "ops@example.com",
    corsAllowedOrigins: "https://console.example.com",
    routerReservedConcurrency: "50",
    allowedCidrs: "10.0.0.0/8",
    tracing: "true",
    systemLogLevel: "INFO",
    deliveryBatchingWindowSeconds: "0",
    routerBatchingWindowSeconds: "0",
    capacityMode: "provisioned",
    pointInTimeRecovery: "false",
    provisionedMinWriteCapacity: "10",
    warmWriteUnitsPerSecond: "4000",
    warmReadUnitsPerSecond: "12000",
  },
  { stage: "staging", alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:ops-alarms" },
  // The switch-over options (issue 21): fixed egress with the way back to an SQS queue, and the way
  // back through an API destination.
  {
    stage: "egress",
    fixedEgress: "true",
    wayBack: "sqs",
    wayBackConsumerArn: "arn:aws:iam::123456789012:role/voipbin-poller",
  },
  {
    stage: "dev-back",
    fixedEgress: "true",
    fixedEgressAzs: "1",
    wayBack: "https",
    wayBackEndpoint: "https://hooks.voipbin.example/ops",
    wayBackApiKeySecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:voipbin-way-back-AbCdEf",
  },
];

function cfnLintVersion(): string | undefined {
  const probe = spawnSync("cfn-lint", ["--version"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

function main(): number {
  const version = cfnLintVersion();
  if (version === undefined) {
    process.stderr.write("lint:cfn: cfn-lint is not installed (pip install cfn-lint): skipped.\n");
    return 0;
  }
  const root = mkdtempSync(path.join(tmpdir(), "cfn-lint-"));
  try {
    const templates: string[] = [];
    LINTED_VARIANTS.forEach((variant, i) => {
      const outdir = path.join(root, `variant-${i}`);
      // No bundling: cfn-lint reads the template, and the bundles do not change it.
      const { app } = createApp({
        outdir,
        context: { ...CDK_CONTEXT, "aws:cdk:bundling-stacks": [], ...variant },
      });
      app.synth();
      for (const file of readdirSync(outdir).filter((f) => f.endsWith(".template.json"))) {
        templates.push(path.join(outdir, file));
      }
    });
    process.stderr.write(`lint:cfn: ${version} on ${templates.length} templates\n`);
    const run = spawnSync(
      "cfn-lint", // W3005: CDK adds a DependsOn on each function's role that its GetAt already implies; harmless.
      ["--non-zero-exit-code", "error", "--ignore-checks", "W3005", "--", ...templates],
      {
        stdio: "inherit",
      },
    );
    if (run.status !== 0) {
      process.stderr.write(`lint:cfn: cfn-lint reported errors (exit ${run.status}).\n`);
      return 1;
    }
    process.stderr.write("lint:cfn: no errors.\n");
    return 0;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

process.exitCode = main();
