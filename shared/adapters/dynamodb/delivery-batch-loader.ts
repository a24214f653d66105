import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  type DeliveryBatchLoader,
  type DeliveryState,
  subscriptionLookupKey,
} from "../../domain/ports/deliveries.ts";
import type { SubscriptionWithSecrets } from "../../domain/subscriptions/subscription.ts";
import { deliveryStateFromItem } from "./deliveries.ts";
import { DeliveryTables } from "./delivery-tables.ts";
import { subscriptionFromItem } from "./subscriptions.ts";
import { batchGetFromTables, type Item, type ItemKey, itemKeyString, keys } from "./table.ts";

/**
 * One BatchGetItem (consistent reads) for every subscription and delivery record a batch needs, over
 * both tables (`RequestItems` is keyed by table). The key layout stays here, in the adapter: the
 * delivery service asks for subscriptions and deliveries.
 *
 * A delivery written before the split (delivery-tables.ts) is also looked for in the main table, in
 * the same request; found there and not in the deliveries table, it is moved before the batch goes
 * on (`DeliveryTables.adopt`), so every write the batch makes for it goes to the deliveries table,
 * conditioned exactly as for any other delivery.
 */
export function createDeliveryBatchLoader(
  doc: DynamoDBDocumentClient,
  tables: DeliveryTables | string,
  now: () => Date = () => new Date(),
): DeliveryBatchLoader {
  const where = typeof tables === "string" ? DeliveryTables.single(doc, tables) : tables;
  return async (request) => {
    const mainKeys: ItemKey[] = request.subscriptions.map((s) =>
      keys.subscription(s.customerId, s.subscriptionId),
    );
    const deliveryKeys: ItemKey[] = [];
    const preSplit: { customerId: string; deliveryId: string }[] = [];
    for (const d of request.deliveries) {
      const key = keys.deliveryHead(d.customerId, d.deliveryId);
      if (where.tableOf(d.deliveryId) === where.main) mainKeys.push(key);
      else deliveryKeys.push(key);
      if (await where.mayBeInMain(d.deliveryId)) {
        mainKeys.push(key);
        preSplit.push(d);
      }
    }
    const byTable = new Map<string, ItemKey[]>([[where.main, mainKeys]]);
    if (where.isSplit) byTable.set(where.deliveries, deliveryKeys);
    const at = now();
    const found =
      mainKeys.length + deliveryKeys.length > 0
        ? await batchGetFromTables(doc, byTable, at)
        : new Map<string, Map<string, Item>>();
    const inMain = found.get(where.main) ?? new Map<string, Item>();
    const inDeliveries = found.get(where.deliveries) ?? new Map<string, Item>();
    for (const { customerId, deliveryId } of preSplit) {
      const id = itemKeyString(keys.deliveryHead(customerId, deliveryId));
      const old = inMain.get(id);
      if (old === undefined || inDeliveries.has(id)) continue;
      const moved = await where.adopt(customerId, deliveryId, at, old);
      if (moved !== null) inDeliveries.set(id, moved);
    }
    const subscriptions = new Map<string, SubscriptionWithSecrets | null>();
    for (const { customerId, subscriptionId } of request.subscriptions) {
      const item = inMain.get(itemKeyString(keys.subscription(customerId, subscriptionId)));
      subscriptions.set(
        subscriptionLookupKey(customerId, subscriptionId),
        item ? subscriptionFromItem(item) : null,
      );
    }
    const deliveries = new Map<string, DeliveryState>();
    for (const { customerId, deliveryId } of request.deliveries) {
      const id = itemKeyString(keys.deliveryHead(customerId, deliveryId));
      const item = where.tableOf(deliveryId) === where.main ? inMain.get(id) : inDeliveries.get(id);
      if (item) deliveries.set(deliveryId, deliveryStateFromItem(item));
    }
    return { subscriptions, deliveries };
  };
}
