/**
 * The delivery records of the layouts before layout 3, as the repository still reads them
 * (docs/data-model.md, "Deliveries: earlier layouts", with the date they can go):
 * - layout 1: one item per delivery holding every attempt (`attempts`), its counters
 *   (`attempt_count`, `next_attempt_at`) and the payload; logged in GSI1 under one partition per
 *   subscription;
 * - layout 2: the bounded head of layout 3 (counters, attempt items), keyed by the delivery id
 *   (`DELIVERY#<id>` / `DELIVERY`) and logged in GSI1 under four shards per subscription. Version 8
 *   ids (jobs from before the upgrade) still write it, so it lives as long as such jobs can.
 * Layout 3 never reaches this file's readers except through `isBoundedLayout`.
 */
import type { DeliveryAttempt, DeliveryStatus } from "../../domain/delivery/delivery.ts";
import type { DeliveryState } from "../../domain/ports/deliveries.ts";
import { DELIVERY_LOG_SHARDS, type Item, keys } from "./table.ts";

export const str = (value: unknown): string | null => (typeof value === "string" ? value : null);

/** A head of layout 2 or 3: counters and attempt items rather than one item holding every attempt. */
export const isBoundedLayout = (item: Item): boolean => typeof item.layout === "number" && item.layout >= 2;

/** The attempts a layout-1 item holds (none for a later layout), each with its request or null. */
export function layout1Attempts(item: Item): DeliveryAttempt[] {
  const list = (item.attempts as DeliveryAttempt[] | undefined) ?? [];
  return list.map((attempt) => ({ ...attempt, request: attempt.request ?? null }));
}

/**
 * What the delivery function needs of a layout-1 item. Its receive-counted chain is unknown; its
 * attempt count is the best bound we have. It names no live job and was never marked dead-lettered.
 */
export function layout1State(item: Item): DeliveryState {
  return {
    event_id: String(item.event_id),
    status: item.status as DeliveryStatus,
    dead_reason: null,
    succeeded_at: str(item.succeeded_at),
    next_attempt_at: str(item.next_attempt_at),
    chain_attempts: Number(item.attempt_count ?? layout1Attempts(item).length),
    live_job: null,
    prev_job: null,
    dead_lettered_at: null,
    held_ms: 0,
  };
}

export interface LogPartition {
  readonly pk: string;
  /** A GSI1 partition (layouts 1 and 2) rather than a table partition (layout 3). */
  readonly index: boolean;
}

/** The GSI1 partitions of a subscription's log before layout 3: layout 1's one, layout 2's shards. */
export function legacyLogPartitions(subscriptionId: string): LogPartition[] {
  return [
    { pk: keys.deliveriesOfSubscription(subscriptionId).GSI1PK, index: true },
    ...Array.from({ length: DELIVERY_LOG_SHARDS }, (_, shard) => ({
      pk: keys.deliveryLogShard(subscriptionId, shard).GSI1PK,
      index: true,
    })),
  ];
}
