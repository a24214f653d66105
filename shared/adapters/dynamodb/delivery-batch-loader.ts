import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  type DeliveryBatchLoader,
  type DeliveryState,
  subscriptionLookupKey,
} from "../../domain/ports/deliveries.ts";
import type { SubscriptionWithSecrets } from "../../domain/subscriptions/subscription.ts";
import { deliveryStateFromItem } from "./deliveries.ts";
import { subscriptionFromItem } from "./subscriptions.ts";
import { batchGetItems, type ItemKey, itemKeyString, keys } from "./table.ts";

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
