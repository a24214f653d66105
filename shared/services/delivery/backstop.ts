/**
 * Reconciliation of jobs SQS's own redrive moved to the delivery backstop queue (PRODUCT §4). Both
 * delivery lanes name that queue as their redrive target with `maxReceiveCount` 35: a message gets
 * there only because SQS counted that many receives — receives that never reached the function
 * (throttled invocations) or that failed on our side. Our code never writes to it, so it holds
 * nothing but backstop arrivals, and a pass reads only those: it is not behind the dead letters.
 * Such a delivery's record may still say `pending` or `failed`: it is closed as `dead`, reason
 * `internal`, the job is put on the dead-letter queue with that reason (where operators see and
 * redrive dead deliveries), and only then deleted from the backstop queue.
 */

import { parseDeliveryJob } from "../../domain/delivery/job.ts";
import type { DeliveryRepository } from "../../domain/ports/deliveries.ts";
import type { DomainLogger } from "../../domain/ports/logger.ts";
import type { BackstopArrival, BackstopQueue, DeadLetterQueue } from "../../domain/ports/queues.ts";
import { liveJobOf } from "./deliver.ts";

/**
 * A pass's long-poll wait. Any long poll (WaitTimeSeconds > 0) asks every SQS server and answers as
 * soon as a message is there, so an empty answer after 1 s means the queue is drained as surely as
 * after 20 s ("Amazon SQS short and long polling",
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html);
 * an arrival later than that is the next pass's. With 20 s every pass (and an operator's `ops
 * dead-letters reconcile`) ended 20 s after its last arrival: billed function time every 5 minutes,
 * and the wait of every test that runs a pass.
 */
export const BACKSTOP_LONG_POLL_SECONDS = 1;

/**
 * How long a received arrival stays hidden: longer than a pass's own budget, so that one pass never
 * sees an arrival twice (an unreadable one, or every one in a dry run, comes back after it).
 */
const ARRIVAL_VISIBILITY_SECONDS = 300;

export interface BackstopDependencies {
  readonly backstop: Pick<BackstopQueue, "receive" | "release" | "delete">;
  readonly deadLetters: Pick<DeadLetterQueue, "send">;
  readonly deliveries: Pick<DeliveryRepository, "close" | "get" | "isDeadLettered" | "markDeadLettered">;
  readonly retentionDays: number;
  readonly logger: DomainLogger;
  readonly now?: () => Date;
}

export interface BackstopOptions {
  /**
   * Epoch milliseconds after which no receive starts (the invocation's remaining time less a margin);
   * a receive's wait is shortened to end by then. Default: no limit, the pass runs until an empty answer.
   */
  readonly deadlineMs?: number;
  /** Long-poll wait of each receive (default BACKSTOP_LONG_POLL_SECONDS, 1 s). */
  readonly waitSeconds?: number;
  /** Count what would be reconciled; release every arrival at the end, change nothing. */
  readonly dryRun?: boolean;
}

export interface BackstopResult {
  /** Backstop arrivals looked at. */
  readonly examined: number;
  /**
   * Arrivals reconciled: record closed (`internal`), the job on the dead-letter queue with the reason,
   * deleted from the backstop queue (in a dry run: arrivals found, a readable job or not).
   */
  readonly reconciled: number;
  /** Arrivals that are not delivery jobs: left on the backstop queue for an operator (alarmed). */
  readonly unreadable: number;
  /** Whether the pass ended on an empty answer (the queue drained) rather than on its time budget. */
  readonly drained: boolean;
}

/**
 * One pass over the backstop queue: long polls until an empty answer or the time budget. Safe to run
 * concurrently with itself (a received arrival is hidden from the other pass) and with the delivery
 * function. Run on a schedule: on AWS an EventBridge rule invokes the delivery function with a
 * Scheduled Event every `BACKSTOP_RECONCILE_MINUTES` (infra/constructs/delivery.ts), the local stack
 * on the same period, and an operator with `npm run ops -- dead-letters reconcile`.
 */
export async function reconcileBackstopArrivals(
  deps: BackstopDependencies,
  options: BackstopOptions = {},
): Promise<BackstopResult> {
  const deadline = options.deadlineMs ?? Number.POSITIVE_INFINITY;
  const longest = options.waitSeconds ?? BACKSTOP_LONG_POLL_SECONDS;
  let reconciled = 0;
  let unreadable = 0;
  let drained = false;
  const seen = new Set<string>();
  const held: string[] = [];
  try {
    while (Date.now() < deadline) {
      const wait = Math.max(0, Math.min(longest, Math.floor((deadline - Date.now()) / 1000)));
      const batch = await deps.backstop.receive(wait, ARRIVAL_VISIBILITY_SECONDS);
      if (batch.length === 0) {
        drained = true;
        break;
      }
      for (const arrival of batch) {
        if (seen.has(arrival.messageId)) continue;
        seen.add(arrival.messageId);
        if (options.dryRun === true) {
          held.push(arrival.receiptHandle);
          reconciled++;
        } else if (await reconcileOne(deps, arrival)) reconciled++;
        else unreadable++;
      }
    }
  } finally {
    // A dry run changes nothing: what it hid for the pass is visible again at once.
    for (const receiptHandle of held) await deps.backstop.release(receiptHandle);
  }
  return { examined: seen.size, reconciled, unreadable, drained };
}

/** False when the arrival is not a delivery job (left hidden, comes back after the pass). */
async function reconcileOne(deps: BackstopDependencies, arrival: BackstopArrival): Promise<boolean> {
  let job: ReturnType<typeof parseDeliveryJob>;
  try {
    job = parseDeliveryJob(arrival.body);
  } catch {
    deps.logger.error("backstop arrival is not a delivery job; left on the backstop queue for an operator", {
      message_id: arrival.messageId,
    });
    return false;
  }
  const now = deps.now?.() ?? new Date();
  // SQS keeps the message id when it moves a message, so the job is recognised as the live one.
  const closed = await deps.deliveries.close({
    delivery: job,
    reason: "internal",
    now,
    retentionDays: deps.retentionDays,
    liveJob: liveJobOf(job, arrival.messageId),
  });
  if (!closed) {
    // Not closed by this arrival: either a pass closed it and died before the delete (dead, reason
    // internal: the dead-letter mark below decides), or the arrival is a stale copy of a delivery
    // another job carries on, or that succeeded, or was closed by the delivery function (which
    // dead-letters its own), or was erased. Those are only deleted: a DLQ copy of a delivery still
    // alive would be replayed by a redrive beside its live job.
    const record = await deps.deliveries.get(job.customer_id, job.delivery_id, now);
    if (record?.status !== "dead" || record.dead_reason !== "internal") {
      await deps.backstop.delete(arrival.receiptHandle);
      deps.logger.warn("stale backstop arrival deleted: its delivery is not closed by the backstop", {
        delivery_id: job.delivery_id,
        message_id: arrival.messageId,
        status: record?.status ?? null,
      });
      return true;
    }
  }
  // A pass that crashed after the send and its mark but before the delete: the job is on the
  // dead-letter queue already, so the arrival back from the backstop queue is only deleted.
  const already = await deps.deliveries.isDeadLettered(job.customer_id, job.delivery_id);
  if (!already) {
    await deps.deadLetters.send(job, "internal", {
      moved_by: "backstop",
      original_message_id: arrival.messageId,
    });
    await deps.deliveries.markDeadLettered(job.customer_id, job.delivery_id, now);
  }
  await deps.backstop.delete(arrival.receiptHandle);
  deps.logger.error("backstop arrival reconciled: delivery closed as dead (reason internal)", {
    delivery_id: job.delivery_id,
    message_id: arrival.messageId,
    record_closed: closed,
    already_dead_lettered: already,
  });
  return true;
}
