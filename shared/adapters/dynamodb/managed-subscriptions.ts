import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { DependencyError } from "../../domain/errors.ts";
import type {
  ManagedChange,
  ManagedSubscriptionRepository as ManagedSubscriptionRepositoryPort,
} from "../../domain/ports/subscriptions.ts";
import {
  type CustomerControl,
  MANAGED_BY,
  managedSubscriptionId,
} from "../../domain/subscriptions/managed.ts";
import { type Item, isConditionalCheckFailed, keys } from "./table.ts";

// A sync that sees the control item move under it three times in a row is racing a burst of
// updates of one customer; each of those writers syncs after its own write, so giving up is safe.
const SYNC_ROUNDS = 5;

/**
 * Managed legacy subscriptions in DynamoDB (PRODUCT §11). Two items per customer:
 * - the **control item** (`CUSTOMER#c / MANAGED#LEGACY`): the last applied version of the customer
 *   (`version`, the normalised `tm_update`, and what it asks for). It outlives a removal, so an older
 *   update arriving after a deletion is recognised as older. Its write is conditional on the stored
 *   version being older: of two versions, only the later one is ever applied.
 * - the **subscription item** (`CUSTOMER#c / SUBSCRIPTION#<derived id>`), the one routing and
 *   delivery read; `managed_version` says which version it reflects.
 *
 * Without transactions (dynalite, the local stack's DynamoDB, has none) the pair is kept in step by
 * convergence: whoever wrote the control item then makes the subscription item match the control
 * item it reads back, writing only when its version is not older than the subscription's, and reads
 * the control item again until it did not move meanwhile. The last writer of the control item
 * therefore always leaves the subscription matching it, however writers interleave.
 */
export class ManagedSubscriptionRepository implements ManagedSubscriptionRepositoryPort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Applies one version of a customer: idempotent, and a no-op when a later version was applied. */
  async apply(control: CustomerControl, now: Date): Promise<ManagedChange> {
    const key = keys.managedControl(control.customerId);
    const item: Item = {
      ...key,
      entity: "managed_control",
      ...controlFields(control),
      updated_at: now.toISOString(),
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: "attribute_not_exists(PK) OR #version < :version",
          ExpressionAttributeNames: { "#version": "version" },
          ExpressionAttributeValues: { ":version": control.version },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const stored = await this.readControl(control.customerId);
      if (stored === null || String(stored.version) > control.version) return "ignored_older";
      // The same version again (a retried router, a re-run import): repair, in case the writer of it
      // stopped between its two writes.
      await this.sync(control.customerId, stored, now);
      return "unchanged";
    }
    return this.sync(control.customerId, item, now);
  }

  private async readControl(customerId: string): Promise<Item | null> {
    const response = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.managedControl(customerId),
        ConsistentRead: true,
      }),
    );
    return response.Item ?? null;
  }

  /** Makes the subscription item match `control`, then checks the control item did not move. */
  private async sync(customerId: string, first: Item, now: Date): Promise<ManagedChange> {
    let control = first;
    let change: ManagedChange = "unchanged";
    for (let round = 0; round < SYNC_ROUNDS; round++) {
      change = await this.enforce(customerId, control, now);
      const again = await this.readControl(customerId);
      if (again === null || again.version === control.version) return change;
      control = again;
    }
    throw new DependencyError(
      "dynamodb",
      `the managed subscription of ${customerId} kept changing during ${SYNC_ROUNDS} syncs`,
    );
  }

  private async enforce(customerId: string, control: Item, now: Date): Promise<ManagedChange> {
    const id = managedSubscriptionId(customerId);
    const key = keys.subscription(customerId, id);
    const condition = "attribute_not_exists(PK) OR managed_version <= :version";
    try {
      if (control.kind === "remove") {
        const response = await this.doc.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: key,
            ConditionExpression: condition,
            ExpressionAttributeValues: { ":version": control.version },
            ReturnValues: "ALL_OLD",
          }),
        );
        return response.Attributes === undefined ? "unchanged" : "removed";
      }
      const at = now.toISOString();
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          // Everything a managed subscription is, set whole: no field of an earlier version (or of a
          // rotation's previous secret) survives. No failing clock, no disable: the legacy profile never
          // auto-disables.
          UpdateExpression:
            "SET entity = :entity, id = :id, customer_id = :customer, #url = :url, #method = :method, " +
            "event_types = :types, #status = :enabled, secret = :secret, managed_by = :by, " +
            "delivery_profile = :profile, managed_version = :version, created_at = if_not_exists(created_at, :at), " +
            "updated_at = :at REMOVE activeflow_id, description, headers, disabled_reason, failing_since, " +
            "previous_secret, previous_secret_expires_at",
          ConditionExpression: condition,
          ExpressionAttributeNames: { "#url": "url", "#method": "method", "#status": "status" },
          ExpressionAttributeValues: {
            ":entity": "subscription",
            ":id": id,
            ":customer": customerId,
            ":url": control.url,
            ":method": control.method,
            ":types": ["*"],
            ":enabled": "enabled",
            ":secret": control.secret,
            ":by": MANAGED_BY,
            ":profile": "legacy",
            ":version": control.version,
            ":at": at,
          },
          ReturnValues: "UPDATED_OLD",
        }),
      );
      const old = response.Attributes;
      if (old?.id === undefined) return "created";
      return old.managed_version === control.version ? "unchanged" : "updated";
    } catch (error) {
      // The subscription already reflects a later version: that version's writer owns it.
      if (isConditionalCheckFailed(error)) return "unchanged";
      throw error;
    }
  }
}

function controlFields(control: CustomerControl): Item {
  if (control.kind === "remove") return { kind: "remove", version: control.version };
  return {
    kind: "upsert",
    version: control.version,
    url: control.url,
    method: control.method,
    secret: control.secret,
  };
}
