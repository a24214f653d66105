import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { PortalLinkRecord } from "../../domain/portal/portal-link.ts";
import type {
  ConsumeResult,
  PortalLinkRepository as PortalLinkRepositoryPort,
} from "../../domain/ports/stores.ts";
import { type Item, isConditionalCheckFailed, keys } from "./table.ts";

/** How long a link item stays after it expired, so a late click is told "expired", not "invalid". */
const PORTAL_LINK_RETENTION_SECONDS = 7 * 86_400;

function portalLinkFromItem(item: Item): PortalLinkRecord {
  return {
    link_hash: item.link_hash as string,
    customer_id: item.customer_id as string,
    created_at: item.created_at as string,
    expires_at: item.link_expires_at as string,
    used_at: (item.used_at as string | undefined) ?? null,
  };
}

/** Portal links in the single table, one item each under the SHA-256 of the token. */
export class PortalLinkRepository implements PortalLinkRepositoryPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(record: PortalLinkRecord): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.portalLink(record.link_hash),
          entity: "portal_link",
          link_hash: record.link_hash,
          customer_id: record.customer_id,
          created_at: record.created_at,
          link_expires_at: record.expires_at,
          expires_at: Math.floor(Date.parse(record.expires_at) / 1000) + PORTAL_LINK_RETENTION_SECONDS,
        },
        ConditionExpression: "attribute_not_exists(PK)",
      }),
    );
  }

  /**
   * Marks the link used, in one conditional UpdateItem: of two exchanges racing with the same token
   * exactly one wins. A refusal says why (unknown, expired or already used).
   */
  async consume(linkHash: string, now: Date): Promise<ConsumeResult> {
    const nowIso = now.toISOString();
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.portalLink(linkHash),
          UpdateExpression: "SET used_at = :now",
          ConditionExpression:
            "attribute_exists(PK) AND attribute_not_exists(used_at) AND link_expires_at > :now",
          ExpressionAttributeValues: { ":now": nowIso },
          ReturnValues: "ALL_NEW",
        }),
      );
      return { kind: "consumed", link: portalLinkFromItem(response.Attributes ?? {}) };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const current = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.portalLink(linkHash), ConsistentRead: true }),
    );
    if (current.Item === undefined) return { kind: "refused", reason: "invalid" };
    const link = portalLinkFromItem(current.Item);
    if (link.used_at !== null) return { kind: "refused", reason: "used" };
    return { kind: "refused", reason: "expired" };
  }
}
