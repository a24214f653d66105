import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { decodePayload } from "#shared/adapters/dynamodb/payload-codec.ts";

/**
 * Every item of the table that names `text` anywhere: its keys, its attributes, or its stored body
 * once decompressed. A consistent Scan of the whole table: what erasure tests read to see that
 * nothing of a customer (or of a call) is left.
 */
export async function itemsMentioning(
  doc: DynamoDBDocumentClient,
  tableName: string,
  text: string,
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      if (JSON.stringify(item).includes(text) || (decodePayload(item) ?? "").includes(text)) found.push(item);
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return found;
}
