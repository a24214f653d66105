import { RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

export interface FixedEgressProps {
  /** Availability zones used: one public subnet, one NAT gateway and one Elastic IP in each. */
  readonly azs: number;
  /** The stage, in the addresses' Name tags. */
  readonly stage: string;
  /** Keep the Elastic IPs (and the flow log group) when they leave the stack: customers allowlist them. */
  readonly retain: boolean;
  readonly logRetention: logs.RetentionDays;
}

/**
 * A fixed source address for deliveries (PRODUCT §11, issue 21): a VPC whose private subnets reach
 * the internet only through NAT gateways, each with an Elastic IP the stack allocates, so every
 * request the delivery function sends leaves from one of `azs` known addresses ("NAT gateways",
 * Amazon VPC User Guide; "Giving Lambda functions access to resources in an Amazon VPC", Lambda
 * Developer Guide: a function in a VPC reaches the internet only through a NAT gateway).
 *
 * - The Elastic IPs are their own resources, retained outside dev stages, so a stack update that
 *   replaces a NAT gateway or the VPC keeps the addresses customers allowlisted.
 * - DynamoDB is reached through a gateway endpoint (free, and it keeps the table's traffic off the
 *   NAT gateways' per-GB charge); SQS, EventBridge, CloudWatch and X-Ray go through NAT.
 * - The security group admits nothing and lets the function dial anywhere: the SSRF policy in the
 *   function decides where deliveries may go (the VPC's own range is private, hence blocked).
 * - Rejected flows are logged (cdk-nag VPC7) to a log group with the functions' retention.
 */
export class FixedEgress extends Construct {
  readonly vpc: ec2.Vpc;
  readonly securityGroup: ec2.SecurityGroup;
  readonly addresses: readonly ec2.CfnEIP[];
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

  constructor(scope: Construct, id: string, props: FixedEgressProps) {
    super(scope, id);
    const removalPolicy = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.addresses = Array.from({ length: props.azs }, (_, i) => {
      const address = new ec2.CfnEIP(this, `Address${i + 1}`, {
        domain: "vpc",
        tags: [{ key: "Name", value: `voipbin-webhooks-egress-${props.stage}-${i + 1}` }],
      });
      address.applyRemovalPolicy(removalPolicy);
      return address;
    });
    const flowLogGroup = new logs.LogGroup(this, "RejectedFlows", {
      retention: props.logRetention,
      removalPolicy,
    });
    this.vpc = new ec2.Vpc(this, "Vpc", {
      ipAddresses: ec2.IpAddresses.cidr("10.64.0.0/16"),
      maxAzs: props.azs,
      natGateways: props.azs,
      natGatewayProvider: ec2.NatProvider.gateway({
        eipAllocationIds: this.addresses.map((address) => address.attrAllocationId),
      }),
      subnetConfiguration: [
        { name: "nat", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        // Lambda takes one address per network interface; /20 leaves room for any concurrency.
        { name: "delivery", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: {
        Rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
        },
      },
      restrictDefaultSecurityGroup: false,
    });
    this.securityGroup = new ec2.SecurityGroup(this, "DeliverySecurityGroup", {
      vpc: this.vpc,
      description:
        "voipbin-webhooks delivery function: no inbound; outbound to any receiver (SSRF checked in code)",
      allowAllOutbound: true,
    });
  }
}
