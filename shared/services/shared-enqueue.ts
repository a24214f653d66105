import type { DeliveryJob } from "../domain/delivery/job.ts";
import { EnqueueFailedError } from "../domain/errors.ts";
import type { DeliveryQueue, EnqueueResult } from "../domain/ports/queues.ts";

/** How long jobs already routed wait for the batch's other events before they are sent anyway. */
export const SHARED_ENQUEUE_MAX_WAIT_MS = 50;

/** One event's view of a shared enqueue: its own `enqueue`, and `leave` once its routing is over. */
export interface SharedEnqueueMember extends Pick<DeliveryQueue, "enqueue"> {
  leave(): void;
}

interface Waiting {
  readonly jobs: readonly DeliveryJob[];
  readonly resolve: (result: EnqueueResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The jobs of several events routed together (one router invocation's batch from its queue) sent in
 * shared SendMessageBatch requests (10 entries each) instead of one request per event: fewer SQS
 * requests for the router, and the delivery mapping receives them in fewer, fuller receives
 * (docs/decisions.md, "Cost, round 3"). Each event enqueues as before, in its own order (its body
 * stored first); the jobs go out when every event of the batch has enqueued or finished without
 * jobs, or `maxWaitMs` after the first jobs are ready — so one event whose routing is slow holds the
 * others' jobs for at most that long.
 *
 * A failure is an event's own: when a shared send leaves entries refused (after the queue's own
 * retries of those entries), only the events whose jobs were refused fail, and their queue retries
 * them after its visibility timeout, exactly as a lone event's failed enqueue was; nothing is re-sent
 * at once, so no job is on the queue twice within moments of itself (a retried event's jobs that did
 * go out come back minutes later as duplicates of the same delivery id, which the delivery function's
 * consistent read of the record absorbs: effectively once, PRODUCT §4).
 */
export function sharedEnqueue(
  queue: Pick<DeliveryQueue, "enqueue">,
  members: number,
  maxWaitMs = SHARED_ENQUEUE_MAX_WAIT_MS,
): { member(): SharedEnqueueMember } {
  let open = members;
  let waiting: Waiting[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  const alone = (entry: Waiting) => {
    queue.enqueue(entry.jobs).then(entry.resolve, entry.reject);
  };
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const group = waiting;
    waiting = [];
    if (group.length === 0) return;
    if (group.length === 1) {
      alone(group[0] as Waiting);
      return;
    }
    queue.enqueue(group.flatMap((entry) => entry.jobs)).then(
      (result) => {
        for (const entry of group) entry.resolve({ sent: entry.jobs.length, requests: result.requests });
      },
      (error: unknown) => {
        // Only the events with a job SQS still refused fail (and are retried by their queue, as a
        // lone event was); the others' jobs are on the queue. Without the refused ids, all fail.
        const refused =
          error instanceof EnqueueFailedError && error.deliveryIds.length > 0
            ? new Set(error.deliveryIds)
            : null;
        for (const entry of group) {
          if (refused === null || entry.jobs.some((job) => refused.has(job.delivery_id))) entry.reject(error);
          else entry.resolve({ sent: entry.jobs.length, requests: 0 });
        }
      },
    );
  };
  const settle = () => {
    if (open === 0) flush();
    else if (waiting.length > 0 && timer === undefined) timer = setTimeout(flush, maxWaitMs);
  };

  return {
    member() {
      let state: "routing" | "enqueued" | "gone" = "routing";
      return {
        enqueue(jobs) {
          // A second enqueue of the same event (none today) goes out on its own.
          if (state !== "routing" || jobs.length === 0) return queue.enqueue(jobs);
          state = "enqueued";
          open--;
          return new Promise<EnqueueResult>((resolve, reject) => {
            waiting.push({ jobs, resolve, reject });
            settle();
          });
        },
        leave() {
          if (state === "routing") {
            open--;
            settle();
          }
          state = "gone";
        },
      };
    },
  };
}
