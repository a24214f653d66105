/**
 * Reconciliation of jobs the delivery queue's redrive backstop moved to the dead-letter queue by
 * itself (PRODUCT §4). Our code dead-letters every job it gives up on with a `reason` attribute; a
 * message without one got there because SQS counted `maxReceiveCount` receives first — receives that
 * never reached the function (throttled invocations) or that failed on our side. Such a delivery's
 * record may still say `pending` or `failed`: it is closed as `dead`, reason `internal`, and the job is
 * put back on the dead-letter queue with that reason, so each arrival is reconciled once.
 */
import type { DeadLetter, DeadLetterQueue } from "../../adapters/delivery-queue.ts";
import type { DeliveryRepository } from "../../adapters/dynamodb/deliveries.ts";
import { parseDeliveryJob } from "../../domain/delivery/job.ts";
import type { DomainLogger } from "./deliver.ts";
import { liveJobOf } from "./deliver.ts";

export interface BackstopDependencies {
  readonly deadLetters: Pick<DeadLetterQueue, "receive" | "release" | "delete" | "send">;
  readonly deliveries: Pick<DeliveryRepository, "close">;
  readonly retentionDays: number;
  readonly logger: DomainLogger;
  readonly now?: () => Date;
}

export interface BackstopResult {
  /** Dead letters looked at (the copies this pass put back are not counted again). */
  readonly examined: number;
  /**
   * Backstop arrivals reconciled: record closed (`internal`) and the job re-queued with the reason
   * (in a dry run: arrivals found, a readable job or not).
   */
  readonly reconciled: number;
  /** Messages without a reason that are not delivery jobs: left on the queue for an operator. */
  readonly unreadable: number;
}

/**
 * One pass over the dead-letter queue (up to `maxReceives` receives of ten). Messages our code wrote
 * are released untouched. Safe to run concurrently with itself and with the delivery function. Run on
 * a schedule: on AWS an EventBridge rule invokes the delivery function with a Scheduled Event every
 * `BACKSTOP_RECONCILE_MINUTES` (infra/constructs/delivery.ts), the local stack on the same period, and
 * an operator with `npm run ops -- dead-letters reconcile`. `dryRun`: count what would be reconciled,
 * release everything, change nothing.
 */
export async function reconcileBackstopArrivals(
  deps: BackstopDependencies,
  options: { maxReceives?: number; dryRun?: boolean } = {},
): Promise<BackstopResult> {
  let reconciled = 0;
  let unreadable = 0;
  const seen = new Set<string>();
  for (let receive = 0; receive < (options.maxReceives ?? 10); receive++) {
    const batch = await deps.deadLetters.receive();
    if (batch.length === 0) break;
    let fresh = 0;
    for (const letter of batch) {
      if (seen.has(letter.messageId)) {
        await deps.deadLetters.release(letter.receiptHandle);
        continue;
      }
      fresh++;
      seen.add(letter.messageId);
      if (letter.reason !== null) {
        await deps.deadLetters.release(letter.receiptHandle);
        continue;
      }
      if (options.dryRun === true) {
        await deps.deadLetters.release(letter.receiptHandle);
        reconciled++;
        continue;
      }
      const resentId = await reconcileOne(deps, letter);
      if (resentId === null) unreadable++;
      else {
        reconciled++;
        // Its copy, with the reason, may come back in this pass: not a message to look at again.
        seen.add(resentId);
      }
    }
    // Everything this receive returned had been seen: the queue holds no more unseen messages.
    if (fresh === 0) break;
  }
  return { examined: seen.size, reconciled, unreadable };
}

/** The id of the copy put back with the reason, or null when the message is not a delivery job. */
async function reconcileOne(deps: BackstopDependencies, letter: DeadLetter): Promise<string | null> {
  let job: ReturnType<typeof parseDeliveryJob>;
  try {
    job = parseDeliveryJob(letter.body);
  } catch {
    deps.logger.error("dead letter without a reason is not a delivery job; left for an operator", {
      message_id: letter.messageId,
    });
    await deps.deadLetters.release(letter.receiptHandle);
    return null;
  }
  const now = deps.now?.() ?? new Date();
  // SQS keeps the message id when it moves a message, so the job is recognised as the live one.
  const closed = await deps.deliveries.close({
    delivery: job,
    reason: "internal",
    now,
    retentionDays: deps.retentionDays,
    liveJob: liveJobOf(job, letter.messageId),
  });
  const resentId = await deps.deadLetters.send(job, "internal", {
    moved_by: "backstop",
    original_message_id: letter.messageId,
  });
  await deps.deadLetters.delete(letter.receiptHandle);
  deps.logger.error("backstop dead letter reconciled: delivery closed as dead (reason internal)", {
    delivery_id: job.delivery_id,
    message_id: letter.messageId,
    record_closed: closed,
  });
  return resentId;
}
