import { beforeAll, describe, expect, it } from "vitest";
import { InvalidSettingsError, resolveSettingsFromContext } from "../../infra/settings.ts";
import { logicalIdOf, resourcesOfType, type SynthesizedApp, synthesize } from "./app-fixture.ts";

/**
 * The switch-over options of PRODUCT §11 (issue 21): fixed egress (the delivery function behind NAT
 * gateways with Elastic IPs) and the way back (operational events to VoIPBIN), each synthesized with
 * cdk-nag's AwsSolutions checks (a finding fails `synthesize`); cfn-lint lints the same variants
 * (scripts/cfn-lint.ts).
 */

function problemsOf(context: Record<string, unknown>): readonly string[] {
  try {
    resolveSettingsFromContext(context);
  } catch (error) {
    if (error instanceof InvalidSettingsError) return error.problems;
    throw error;
  }
  return [];
}

function egressOutputs(synth: SynthesizedApp): Record<string, { Value: unknown }> {
  const outputs = synth.template.toJSON().Outputs as Record<string, { Value: unknown }>;
  return Object.fromEntries(Object.entries(outputs).filter(([id]) => id.startsWith("EgressAddress")));
}

describe("settings", () => {
  it("lists every inconsistency of the way back and fixed egress at once", () => {
    expect(problemsOf({ wayBack: "https" })).toEqual([
      "wayBackEndpoint: required with wayBack=https",
      "wayBackApiKeySecretArn: required with wayBack=https (the API key VoIPBIN checks)",
    ]);
    const problems = problemsOf({
      wayBack: "sqs",
      wayBackEndpoint: "http://voipbin.example",
      fixedEgressAzs: "3",
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^wayBackEndpoint: must be an https:\/\/ URL/),
        "wayBackEndpoint: applies only with wayBack=https",
        expect.stringMatching(/^fixedEgressAzs: .*"3"/),
        "fixedEgressAzs: applies only with fixedEgress=true",
      ]),
    );
    expect(problemsOf({ wayBack: "smtp" })).toEqual([
      expect.stringMatching(/^wayBack: must be none, sqs or https/),
    ]);
  });
});

describe("fixed egress (fixedEgress=true)", () => {
  let synth: SynthesizedApp;
  beforeAll(() => {
    synth = synthesize({ stage: "egress", fixedEgress: "true" }, { bundle: false });
  });

  it("puts only the delivery function in the VPC's private subnets, with a security group of its own", () => {
    const functions = resourcesOfType(synth.template, "AWS::Lambda::Function").filter(([, fn]) =>
      (fn.Properties.FunctionName as string | undefined)?.startsWith("voipbin-webhooks-"),
    );
    const inVpc = functions.filter(([, fn]) => fn.Properties.VpcConfig !== undefined);
    expect(inVpc.map(([, fn]) => fn.Properties.FunctionName)).toEqual(["voipbin-webhooks-delivery-egress"]);
    const vpcConfig = inVpc[0]?.[1].Properties.VpcConfig as {
      SubnetIds: unknown[];
      SecurityGroupIds: unknown[];
    };
    expect(vpcConfig.SubnetIds).toHaveLength(2);
    const egress = synth.stack.egress;
    if (egress === undefined) throw new Error("no egress");
    expect(vpcConfig.SubnetIds).toEqual(
      egress.vpc.privateSubnets.map((s) => synth.stack.resolve(s.subnetId)),
    );
    expect(vpcConfig.SecurityGroupIds).toEqual([synth.stack.resolve(egress.securityGroup.securityGroupId)]);
  });

  it("has one NAT gateway per zone, each with an Elastic IP of its own that is kept and output", () => {
    const eips = resourcesOfType(synth.template, "AWS::EC2::EIP");
    const nats = resourcesOfType(synth.template, "AWS::EC2::NatGateway");
    expect(eips).toHaveLength(2);
    expect(nats).toHaveLength(2);
    const allocations = nats.map(([, nat]) => nat.Properties.AllocationId);
    expect(allocations).toEqual(eips.map(([id]) => ({ "Fn::GetAtt": [id, "AllocationId"] })));
    for (const [, eip] of eips) {
      expect(eip.DeletionPolicy).toBe("Retain");
      expect(eip.UpdateReplacePolicy).toBe("Retain");
    }
    expect(Object.keys(egressOutputs(synth))).toEqual(["EgressAddress1", "EgressAddress2"]);
    expect(Object.values(egressOutputs(synth)).map((output) => output.Value)).toEqual(
      eips.map(([id]) => ({ "Fn::GetAtt": [id, "PublicIp"] })),
    );
  });

  it("reaches DynamoDB through a gateway endpoint and logs rejected flows", () => {
    const endpoints = resourcesOfType(synth.template, "AWS::EC2::VPCEndpoint");
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]?.[1].Properties.VpcEndpointType).toBe("Gateway");
    expect(JSON.stringify(endpoints[0]?.[1].Properties.ServiceName)).toContain("dynamodb");
    const flowLogs = resourcesOfType(synth.template, "AWS::EC2::FlowLog");
    expect(flowLogs.map(([, log]) => log.Properties.TrafficType)).toEqual(["REJECT"]);
  });

  it("lets the delivery role manage its network interfaces (what AWSLambdaVPCAccessExecutionRole grants), no managed policy", () => {
    const role = synth.stack.delivery.delivery.role;
    const policies = resourcesOfType(synth.template, "AWS::IAM::Policy").filter(([, policy]) =>
      (policy.Properties.Roles as unknown[]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ Ref: logicalIdOf(role) }),
      ),
    );
    const statements = policies.flatMap(
      ([, policy]) => (policy.Properties.PolicyDocument as { Statement: { Action: unknown }[] }).Statement,
    );
    expect(statements.map((s) => s.Action)).toContainEqual(
      expect.arrayContaining(["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"]),
    );
    const roleResource = synth.template.toJSON().Resources[logicalIdOf(role)];
    expect(roleResource.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("is not there by default", () => {
    const plain = synthesize({ stage: "plain" }, { bundle: false });
    expect(resourcesOfType(plain.template, "AWS::EC2::VPC")).toHaveLength(0);
    expect(egressOutputs(plain)).toEqual({});
  });
});

describe("the way back (wayBack=sqs|https)", () => {
  it("sqs: a rule for webhook_* from voipbin.webhooks into a queue VoIPBIN's role may consume, alarmed", () => {
    const { stack, template } = synthesize(
      {
        stage: "back",
        wayBack: "sqs",
        wayBackConsumerArn: "arn:aws:iam::123456789012:role/voipbin-poller",
      },
      { bundle: false },
    );
    const wayBack = stack.wayBack;
    if (wayBack?.queue === undefined) throw new Error("no queue");
    const rule = template.toJSON().Resources[logicalIdOf(wayBack.rule)].Properties;
    expect(rule.EventPattern).toEqual({
      source: ["voipbin.webhooks"],
      "detail-type": [{ prefix: "webhook_" }],
    });
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0]).toMatchObject({
      Arn: { "Fn::GetAtt": [logicalIdOf(wayBack.queue), "Arn"] },
      DeadLetterConfig: { Arn: { "Fn::GetAtt": [logicalIdOf(wayBack.deadLetterQueue), "Arn"] } },
      RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
    });
    const policies = JSON.stringify(resourcesOfType(template, "AWS::SQS::QueuePolicy"));
    expect(policies).toContain("arn:aws:iam::123456789012:role/voipbin-poller");
    const alarms = resourcesOfType(template, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties);
    expect(alarms.map((a) => a.AlarmName)).toEqual(
      expect.arrayContaining([
        "voipbin-webhooks-back-WayBackFailedInvocations",
        "voipbin-webhooks-back-WayBackDeadLetters",
      ]),
    );
    const failed = alarms.find((a) => a.AlarmName === "voipbin-webhooks-back-WayBackFailedInvocations");
    expect(failed).toMatchObject({ MetricName: "FailedInvocations", Namespace: "AWS/Events" });
    expect(template.findOutputs("WayBackQueueUrl")).not.toEqual({});
    // Like every queue of the stack, its queues state their maximum message size.
    for (const [id, queue] of resourcesOfType(template, "AWS::SQS::Queue")) {
      expect(queue.Properties.MaximumMessageSize, id).toBe(1_048_576);
    }
  });

  it("https: an API destination with a connection whose API key comes from Secrets Manager", () => {
    const secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:voipbin-way-back-AbCdEf";
    const { template } = synthesize(
      {
        stage: "backhttps",
        wayBack: "https",
        wayBackEndpoint: "https://hooks.voipbin.net/ops",
        wayBackApiKeySecretArn: secret,
      },
      { bundle: false },
    );
    const [destination] = resourcesOfType(template, "AWS::Events::ApiDestination");
    expect(destination?.[1].Properties).toMatchObject({
      InvocationEndpoint: "https://hooks.voipbin.net/ops",
      HttpMethod: "POST",
      InvocationRateLimitPerSecond: 10,
    });
    const [connection] = resourcesOfType(template, "AWS::Events::Connection");
    expect(connection?.[1].Properties.AuthorizationType).toBe("API_KEY");
    expect(JSON.stringify(connection?.[1].Properties.AuthParameters)).toContain(secret);
    expect(resourcesOfType(template, "AWS::SQS::Queue").map(([, q]) => q.Properties.QueueName)).toContain(
      "voipbin-webhooks-way-back-dlq-backhttps",
    );
    expect(template.findOutputs("WayBackQueueUrl")).toEqual({});
  });
});
