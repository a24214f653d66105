import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AppConfig } from "../config.ts";

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly eventBridge: EventBridgeClient;
}

/**
 * The AWS clients of a function, created once per cold start. Endpoints are overridden only for the
 * local stack; on AWS they come from the region. The SQS client must not take its endpoint from
 * queue URLs: the local SQS emulator's URLs name a host that does not resolve.
 */
export function createAwsClients(config: AppConfig): AwsClients {
  const region = config.AWS_REGION;
  const dynamodb = new DynamoDBClient({
    region,
    ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}),
    // Our own retries (batch-level) sit on top; keep the SDK's bounded.
    maxAttempts: 4,
  });
  const doc = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const sqs = new SQSClient({
    region,
    ...(config.SQS_ENDPOINT ? { endpoint: config.SQS_ENDPOINT, useQueueUrlAsEndpoint: false } : {}),
    maxAttempts: 4,
  });
  const eventBridge = new EventBridgeClient({
    region,
    ...(config.EVENTBRIDGE_ENDPOINT ? { endpoint: config.EVENTBRIDGE_ENDPOINT } : {}),
    maxAttempts: 4,
  });
  return { dynamodb, doc, sqs, eventBridge };
}
