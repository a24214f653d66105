import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { QuotaCounterRepository as QuotaCounterRepositoryPort } from "../../domain/ports/stores.ts";
import { type QuotaAction, type QuotaRule, quotaWindow } from "../../domain/quotas/quota.ts";
import { isConditionalCheckFailed, keys } from "./table.ts";

/** Counter items outlive their window by this much before TTL may delete them. */
const QUOTA_ITEM_GRACE_SECONDS = 3600;

/**
 * Quota windows as DynamoDB counters: one conditional UpdateItem per action, `ADD count 1` only while
 * the count is below the limit. The condition is evaluated atomically on the item, so concurrent API
 * instances never admit more than the limit between them (no read-then-write race) and a refused
 * request writes nothing. One write unit per admitted request; a refusal costs one too (DynamoDB
 * bills a failed conditional write).
 */
export class QuotaCounterRepository implements QuotaCounterRepositoryPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Takes one unit of the current window; false when the window is used up. */
  async tryConsume(customerId: string, action: QuotaAction, rule: QuotaRule, now: Date): Promise<boolean> {
    const window = quotaWindow(rule, now);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.quotaWindow(customerId, action, window.startS),
          UpdateExpression: "ADD #count :one SET entity = :entity, expires_at = :expires",
          ConditionExpression: "attribute_not_exists(#count) OR #count < :limit",
          ExpressionAttributeNames: { "#count": "count" },
          ExpressionAttributeValues: {
            ":one": 1,
            ":limit": rule.limit,
            ":entity": "quota_window",
            ":expires": window.endS + QUOTA_ITEM_GRACE_SECONDS,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
