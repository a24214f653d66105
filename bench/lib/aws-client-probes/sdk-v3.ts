/**
 * One PutItem through AWS SDK v3, as the functions make it (DynamoDBClient, a command, the SDK's
 * marshalling): the SDK side of the cold-start section's client comparison (bench/cold-start.ts).
 */
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { KeyedSha256 } from "../../../shared/adapters/sha256.ts";

const client = new DynamoDBClient({
  region: process.env.AWS_REGION ?? "us-east-1",
  ...(process.env.PROBE_ENDPOINT ? { endpoint: process.env.PROBE_ENDPOINT } : {}),
  maxAttempts: 1,
  sha256: KeyedSha256,
});

export async function putItem(table: string, item: Record<string, unknown>): Promise<void> {
  await client.send(new PutItemCommand({ TableName: table, Item: marshall(item) }));
}
