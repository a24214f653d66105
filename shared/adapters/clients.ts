import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AppConfig } from "../config.ts";
import { localEndpointClientOptions } from "./local-endpoints.ts";
import { KeyedSha256 } from "./sha256.ts";

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly eventBridge: EventBridgeClient;
}

/**
 * Our own retries (batch-level) sit on top of the SDK's; keep the SDK's bounded.
 */
const MAX_ATTEMPTS = 4;

export interface TableClients {
  readonly dynamodb: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
}

/**
 * One factory per service, so each function builds (and bundles: esbuild drops the clients a
 * function never references) only the clients it uses. Endpoints are overridden only for the local
 * stack; on AWS they come from the region. An endpoint the process serves itself (the local stack's
 * stand-ins) is reached without SigV4, and in-process where it can be (local-endpoints.ts).
 */
export function createTableClients(
  config: Pick<AppConfig, "AWS_REGION" | "DYNAMODB_ENDPOINT">,
  maxAttempts = MAX_ATTEMPTS,
): TableClients {
  const dynamodb = new DynamoDBClient({
    region: config.AWS_REGION,
    ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}),
    maxAttempts,
    sha256: KeyedSha256,
    ...localEndpointClientOptions(config.DYNAMODB_ENDPOINT),
  });
  const doc = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { dynamodb, doc };
}

/**
 * The SQS client must not take its endpoint from queue URLs: the local SQS emulator's URLs name a
 * host that does not resolve.
 */
export function createSqsClient(config: Pick<AppConfig, "AWS_REGION" | "SQS_ENDPOINT">): SQSClient {
  return new SQSClient({
    region: config.AWS_REGION,
    ...(config.SQS_ENDPOINT ? { endpoint: config.SQS_ENDPOINT, useQueueUrlAsEndpoint: false } : {}),
    maxAttempts: MAX_ATTEMPTS,
    sha256: KeyedSha256,
    ...localEndpointClientOptions(config.SQS_ENDPOINT),
  });
}

export function createEventBridgeClient(
  config: Pick<AppConfig, "AWS_REGION" | "EVENTBRIDGE_ENDPOINT">,
): EventBridgeClient {
  return new EventBridgeClient({
    region: config.AWS_REGION,
    ...(config.EVENTBRIDGE_ENDPOINT ? { endpoint: config.EVENTBRIDGE_ENDPOINT } : {}),
    maxAttempts: MAX_ATTEMPTS,
    sha256: KeyedSha256,
    ...localEndpointClientOptions(config.EVENTBRIDGE_ENDPOINT),
  });
}

/** Every client (tests, benchmarks, tools that need them all); functions use the factories above. */
export function createAwsClients(config: AppConfig): AwsClients {
  return {
    ...createTableClients(config),
    sqs: createSqsClient(config),
    eventBridge: createEventBridgeClient(config),
  };
}
