import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DeleteCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { CodedError, DependencyError } from "../../domain/errors.ts";
import type { AddedEventType } from "../../domain/events/runtime-catalogue.ts";
import { type Item, isConditionalCheckFailed, keys } from "./table.ts";

export class EventTypeExistsError extends CodedError {
  override readonly name = "EventTypeExistsError";
  readonly code = "EVENT_TYPE_EXISTS";
}

export class EventTypeNotFoundError extends CodedError {
  override readonly name = "EventTypeNotFoundError";
  readonly code = "EVENT_TYPE_NOT_FOUND";
}

function fromItem(item: Item): AddedEventType {
  return {
    type: String(item.type),
    resource: String(item.resource),
    description: String(item.description),
    added_at: String(item.added_at),
  };
}

/**
 * The event types operators added at run time (docs/data-model.md, "Run-time event types"): one item
 * per type in the `CATALOGUE` partition, so the whole list is one Query of a few hundred bytes.
 */
export class EventTypeRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async list(): Promise<AddedEventType[]> {
    const types: AddedEventType[] = [];
    let start: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: "PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues: { ":pk": keys.eventTypes.PK, ":prefix": keys.eventTypes.skPrefix },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        types.push(...(page.Items ?? []).map(fromItem));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
    } catch (error) {
      throw new DependencyError("dynamodb", "reading the run-time event types failed", { cause: error });
    }
    return types;
  }

  /** Adds a type; EventTypeExistsError when it was added already (its entry is left as it is). */
  async add(entry: AddedEventType): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.eventType(entry.type), ...entry },
          ConditionExpression: "attribute_not_exists(PK)",
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error))
        throw new EventTypeExistsError(`event type ${entry.type} was added already`);
      throw new DependencyError("dynamodb", "adding the event type failed", { cause: error });
    }
  }

  /** Removes a type and answers what was stored; EventTypeNotFoundError when it was not added. */
  async remove(type: string): Promise<AddedEventType> {
    try {
      const response = await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.eventType(type),
          ConditionExpression: "attribute_exists(PK)",
          ReturnValues: "ALL_OLD",
        }),
      );
      return fromItem(response.Attributes ?? { type });
    } catch (error) {
      if (isConditionalCheckFailed(error))
        throw new EventTypeNotFoundError(`event type ${type} is not an added type`);
      throw new DependencyError("dynamodb", "removing the event type failed", { cause: error });
    }
  }
}
