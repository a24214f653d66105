import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DeleteCommand, GetCommand, PutCommand, paginateQuery, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AccessKeyRecord } from "../../domain/access-keys/access-key.ts";
import type {
  AccessKeyRepository as AccessKeyRepositoryPort,
  RevokeResult,
} from "../../domain/ports/stores.ts";
import { TABLE_KEYS } from "../../resources.ts";
import { type Item, isConditionalCheckFailed, isExpired, keys } from "./table.ts";

/**
 * How long an expired or revoked key stays listable before DynamoDB's TTL removes it. It keeps working
 * as "revoked"/"expired" until then; afterwards it is simply unknown, which the authorizer refuses the same way.
 */
export const ACCESS_KEY_RETENTION_SECONDS = 90 * 86_400;

export function accessKeyFromItem(item: Item): AccessKeyRecord {
  return {
    key_id: item.key_id as string,
    key_hash: item.key_hash as string,
    customer_id: item.customer_id as string,
    name: (item.name as string | undefined) ?? null,
    created_at: item.created_at as string,
    expires_at: (item.key_expires_at as string | undefined) ?? null,
    revoked_at: (item.revoked_at as string | undefined) ?? null,
  };
}

/** TTL (epoch seconds) of a key's items: retention after it stops working, or none while it may work forever. */
function ttlFor(record: Pick<AccessKeyRecord, "expires_at" | "revoked_at">): number | undefined {
  const ends = [record.expires_at, record.revoked_at]
    .filter((value): value is string => value !== null)
    .map((value) => Date.parse(value));
  if (ends.length === 0) return undefined;
  return Math.floor(Math.min(...ends) / 1000) + ACCESS_KEY_RETENTION_SECONDS;
}

/**
 * Access keys in the single table (docs/data-model.md, "Access keys"): the key item under the hash of
 * the key, listed per customer through GSI1, and a pointer item from the key id to the hash.
 */
export class AccessKeyRepository implements AccessKeyRepositoryPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Writes the key item, then the id pointer (no transactions on dynalite). If the pointer cannot be
   * written the key item is removed again: the caller never shows a key that could not be revoked.
   */
  async create(record: AccessKeyRecord): Promise<void> {
    const ttl = ttlFor(record);
    const item: Item = {
      ...keys.accessKey(record.key_hash),
      entity: "access_key",
      key_id: record.key_id,
      key_hash: record.key_hash,
      customer_id: record.customer_id,
      created_at: record.created_at,
      ...keys.accessKeysOfCustomer(record.customer_id),
      GSI1SK: `${record.created_at}#${record.key_id}`,
    };
    if (record.name !== null) item.name = record.name;
    if (record.expires_at !== null) item.key_expires_at = record.expires_at;
    if (record.revoked_at !== null) item.revoked_at = record.revoked_at;
    if (ttl !== undefined) item.expires_at = ttl;
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        ConditionExpression: "attribute_not_exists(PK)",
      }),
    );
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.accessKeyId(record.key_id),
            entity: "access_key_id",
            key_id: record.key_id,
            key_hash: record.key_hash,
            customer_id: record.customer_id,
            ...(ttl !== undefined ? { expires_at: ttl } : {}),
          },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (error) {
      await this.doc
        .send(new DeleteCommand({ TableName: this.tableName, Key: keys.accessKey(record.key_hash) }))
        .catch(() => undefined);
      throw error;
    }
  }

  /** The key whose SHA-256 this is, or null. Strongly consistent: a key works the moment it is minted. */
  async getByHash(keyHash: string, now: Date = new Date()): Promise<AccessKeyRecord | null> {
    const response = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.accessKey(keyHash), ConsistentRead: true }),
    );
    return response.Item && !isExpired(response.Item, now) ? accessKeyFromItem(response.Item) : null;
  }

  async getById(keyId: string, now: Date = new Date()): Promise<AccessKeyRecord | null> {
    const pointer = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.accessKeyId(keyId), ConsistentRead: true }),
    );
    const keyHash = pointer.Item?.key_hash;
    if (typeof keyHash !== "string") return null;
    return this.getByHash(keyHash, now);
  }

  /** Every key of a customer, oldest first (GSI1, eventually consistent). */
  async listByCustomer(customerId: string, now: Date = new Date()): Promise<AccessKeyRecord[]> {
    const result: AccessKeyRecord[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.tableName,
        IndexName: TABLE_KEYS.gsi1.indexName,
        KeyConditionExpression: "GSI1PK = :pk",
        ExpressionAttributeValues: { ":pk": keys.accessKeysOfCustomer(customerId).GSI1PK },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        if (!isExpired(item, now)) result.push(accessKeyFromItem(item));
      }
    }
    return result;
  }

  /** Revokes a key by id; revoking twice keeps the first revocation time. */
  async revoke(keyId: string, now: Date): Promise<RevokeResult> {
    const current = await this.getById(keyId, now);
    if (current === null) return { kind: "not_found" };
    if (current.revoked_at !== null) return { kind: "already_revoked", key: current };
    const revokedAt = now.toISOString();
    const ttl = ttlFor({ expires_at: current.expires_at, revoked_at: revokedAt });
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.accessKey(current.key_hash),
          UpdateExpression: "SET revoked_at = :revoked, expires_at = :ttl",
          ConditionExpression: "attribute_exists(PK) AND attribute_not_exists(revoked_at)",
          ExpressionAttributeValues: { ":revoked": revokedAt, ":ttl": ttl },
          ReturnValues: "ALL_NEW",
        }),
      );
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.accessKeyId(keyId),
          UpdateExpression: "SET expires_at = :ttl",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: { ":ttl": ttl },
        }),
      );
      return {
        kind: "revoked",
        key: response.Attributes
          ? accessKeyFromItem(response.Attributes)
          : { ...current, revoked_at: revokedAt },
      };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const again = await this.getById(keyId, now);
      return again === null ? { kind: "not_found" } : { kind: "already_revoked", key: again };
    }
  }
}
