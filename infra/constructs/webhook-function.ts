import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { LogLevel, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "#shared/adapters/observability.ts";
import type { FunctionName, StageResourceNames } from "#shared/resources.ts";

/** The repository root: the bundler's project root, where package.json and the lock file are. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The Lambda entry points, `functions/<name>.ts`. */
export type { FunctionName };

export function functionEntry(name: FunctionName): string {
  return fileURLToPath(new URL(`../../functions/${name}.ts`, import.meta.url));
}

/**
 * ESM bundles need `require` for the CommonJS dependencies that call it (esbuild turns their
 * `require("node:…")` into a call of this one).
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __voipbinCreateRequire } from 'node:module'; const require = __voipbinCreateRequire(import.meta.url);";

/** The SDK's default credential chain, which every client's runtime config imports. */
export const CREDENTIAL_CHAIN_PACKAGE = "@aws-sdk/credential-provider-node";
/** What the bundles take instead (esbuild resolves an alias's path from the project root). */
export const LAMBDA_CREDENTIALS_MODULE = "./shared/adapters/lambda-credentials.ts";

/**
 * Left out of the bundles: the SDK's event-stream support (~15 KB minified), which `@smithy/core`'s
 * HttpProtocol loads with `await import(...)` only for an operation whose input or output is an event
 * stream. DynamoDB, SQS and EventBridge have no such operation; esbuild would inline the dynamic
 * import into the single file anyway.
 */
export const LAZY_SDK_EXTERNALS = ["@smithy/core/event-streams"] as const;

/** What every function of a deployment shares; the stack builds it once. */
export interface FunctionDefaults {
  /** Environment shared by every function (resource names and settings, `shared/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  /** The stage's physical names: each function and its log group is named from them. */
  readonly names: StageResourceNames;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Powertools log level.
   * @default "INFO"
   */
  readonly logLevel?: string;
  /**
   * Lambda's system (platform) log level; at WARN the per-invocation platform lines are not written.
   * @default "WARN"
   */
  readonly systemLogLevel?: "DEBUG" | "INFO" | "WARN";
  /**
   * X-Ray active tracing.
   * @default false
   */
  readonly tracing?: boolean;
}

export interface WebhookFunctionProps extends FunctionDefaults {
  /** Which `functions/<name>.ts` entry point to deploy; also the Powertools service name. */
  readonly name: FunctionName;
  /** Shown in the Lambda console. */
  readonly description: string;
  /**
   * Function timeout.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MiB; on arm64 CPU grows with it.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Reserved concurrency.
   * @default - none (unreserved account concurrency)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Folders (or files) copied into the bundle after esbuild ran: name inside the bundle → absolute
   * source path (the API function's `portal/` and `openapi.json`).
   * @default - none
   */
  readonly bundleFolders?: Readonly<Record<string, string>>;
  /**
   * Run the function in these private subnets (fixed egress: infra/constructs/fixed-egress.ts).
   * @default - none (Lambda's own network)
   */
  readonly network?: {
    readonly vpc: ec2.IVpc;
    readonly subnets: ec2.SubnetSelection;
    readonly securityGroup: ec2.ISecurityGroup;
  };
}

/** Single-quoted for the POSIX shell CDK runs the bundling hooks in. */
const shellQuote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;

/**
 * One Lambda function of the system, built the same way for all four: Node.js 24 on arm64, bundled
 * by the local esbuild into one minified ESM file (AWS SDK v3 included, see docs/deploy.md), source
 * maps on, its own log group with a retention, and its own role that may write to that log group
 * and nothing else until the construct that owns the function grants what it needs.
 */
export class WebhookFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WebhookFunctionProps) {
    super(scope, id);
    const tracing = props.tracing ?? false;
    const logLevel = props.logLevel ?? "INFO";

    this.logGroup = new logs.LogGroup(this, "LogGroup", {
      logGroupName: props.names.functionLogGroups[props.name],
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // No AWSLambdaBasicExecutionRole: that managed policy may create and write any log group.
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `voipbin-webhooks ${props.name} function`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, "Function", {
      functionName: props.names.functions[props.name],
      entry: functionEntry(props.name),
      handler: "handler",
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      // Lambda's JSON log format, so that log levels apply to Lambda's own lines too (advanced logging
      // controls, Lambda Developer Guide, "Configuring advanced logging controls for Lambda
      // functions"): at the system level WARN the START/END/REPORT platform lines of every invocation
      // are not ingested. Powertools writes its JSON lines as they are and reads the application
      // level from AWS_LAMBDA_LOG_LEVEL, which Lambda sets from applicationLogLevelV2.
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[logLevel as keyof typeof lambda.ApplicationLogLevel],
      systemLogLevelV2: lambda.SystemLogLevel[props.systemLogLevel ?? "WARN"],
      tracing: tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      ...(props.network
        ? {
            vpc: props.network.vpc,
            vpcSubnets: props.network.subnets,
            securityGroups: [props.network.securityGroup],
          }
        : {}),
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.name,
        POWERTOOLS_LOG_LEVEL: logLevel,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        // No NODE_OPTIONS=--enable-source-maps: parsing the map cost 20–25 ms of every cold start.
        // The maps ship beside the bundle; `npm run decode-stack` maps a logged stack trace back
        // to the sources offline (docs/operations.md, "Reading a stack trace").
      },
      bundling: {
        minify: true,
        sourceMap: true,
        // Stack traces need the mappings, not the sources: a third of the map's size.
        sourcesContent: false,
        target: "node24",
        format: OutputFormat.ESM,
        mainFields: ["module", "main"],
        banner: ESM_REQUIRE_BANNER,
        // Bundle the AWS SDK v3 too: a smaller cold start than resolving the runtime's copy file by
        // file, and the exact versions the tests ran against (docs/deploy.md has the numbers); only
        // the lazily loaded event-stream support stays out.
        externalModules: [...LAZY_SDK_EXTERNALS],
        // The inputs and their bytes in the output: test/infra reads it to keep packages out of the
        // bundles, the cold-start bench reports each bundle by package.
        metafile: true,
        // Lambda's credentials are in the environment: the SDK's default chain gives way to the
        // environment provider alone (shared/adapters/lambda-credentials.ts says why).
        esbuildArgs: { [`--alias:${CREDENTIAL_CHAIN_PACKAGE}`]: LAMBDA_CREDENTIALS_MODULE },
        forceDockerBundling: false,
        logLevel: LogLevel.WARNING,
        ...(props.bundleFolders === undefined
          ? {}
          : {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (_inputDir: string, outputDir: string) =>
                  Object.entries(props.bundleFolders ?? {}).map(
                    ([name, source]) => `cp -R ${shellQuote(source)} ${shellQuote(`${outputDir}/${name}`)}`,
                  ),
              },
            }),
      },
    });

    if (props.network) {
      // What AWSLambdaVPCAccessExecutionRole grants, without the managed policy (cdk-nag IAM4): Lambda
      // creates and deletes the function's network interfaces in the VPC with the function's role
      // ("Giving Lambda functions access to resources in an Amazon VPC", Lambda Developer Guide).
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          resources: ["*"],
        }),
      );
    }
    const wildcards = [
      ...(tracing
        ? [
            "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so they are granted on '*'.",
          ]
        : []),
      ...(props.network
        ? [
            "The function runs in a VPC (fixed egress): Lambda manages its network interfaces with the ec2:*NetworkInterface* / DescribeSubnets / *PrivateIpAddresses actions of AWSLambdaVPCAccessExecutionRole, which Describe* and CreateNetworkInterface do not scope to a resource.",
          ]
        : []),
    ];
    if (wildcards.length > 0) {
      Validations.of(this.role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason: `${wildcards.join(" ")} These are the only wildcards in the role.`,
      });
    }
  }
}
