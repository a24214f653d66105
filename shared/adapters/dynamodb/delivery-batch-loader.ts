import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SubscriptionWithSecrets } from "../../domain/subscriptions/subscription.ts";
import { type DeliveryState, deliveryStateFromItem } from "./deliveries.ts";
import { subscriptionFromItem } from "./subscriptions.ts";
import { batchGetItems, type ItemKey, itemKeyString, keys } from "./table.ts";

/** What one delivery batch needs read before any job is attempted. */
export interface DeliveryBatchLoadRequest {
  readonly subscriptions: readonly { readonly customerId: string; readonly subscriptionId: string }[];
  /** Each delivery by its customer and id: a layout-3 head is addressed by both (keys.deliveryHead). */
  readonly deliveries: readonly { readonly customerId: string; readonly deliveryId: string }[];
}

export interface DeliveryBatchState {
  /** By `subscriptionLookupKey`; null: the subscription does not exist (deleted). */
  readonly subscriptions: ReadonlyMap<string, SubscriptionWithSecrets | null>;
  /** By delivery id; absent: no record yet (the first attempt is still to come). */
  readonly deliveries: ReadonlyMap<string, DeliveryState>;
}

export const subscriptionLookupKey = (customerId: string, subscriptionId: string): string =>
  `${customerId}|${subscriptionId}`;

export type DeliveryBatchLoader = (request: DeliveryBatchLoadRequest) => Promise<DeliveryBatchState>;

/**
 * One BatchGetItem (consistent reads) for every subscription and delivery record a batch needs. The
 * key layout stays here, in the adapter: the delivery service asks for subscriptions and deliveries.
 */
export function createDeliveryBatchLoader(
  doc: DynamoDBDocumentClient,
  tableName: string,
): DeliveryBatchLoader {
  return async (request) => {
    const itemKeys: ItemKey[] = [
      ...request.subscriptions.map((s) => keys.subscription(s.customerId, s.subscriptionId)),
      ...request.deliveries.map((d) => keys.deliveryHead(d.customerId, d.deliveryId)),
    ];
    const items = itemKeys.length > 0 ? await batchGetItems(doc, tableName, itemKeys) : new Map();
    const subscriptions = new Map<string, SubscriptionWithSecrets | null>();
    for (const { customerId, subscriptionId } of request.subscriptions) {
      const item = items.get(itemKeyString(keys.subscription(customerId, subscriptionId)));
      subscriptions.set(
        subscriptionLookupKey(customerId, subscriptionId),
        item ? subscriptionFromItem(item) : null,
      );
    }
    const deliveries = new Map<string, DeliveryState>();
    for (const { customerId, deliveryId } of request.deliveries) {
      const item = items.get(itemKeyString(keys.deliveryHead(customerId, deliveryId)));
      if (item) deliveries.set(deliveryId, deliveryStateFromItem(item));
    }
    return { subscriptions, deliveries };
  };
}
