/**
 * The queues as the use cases see them (the ports): jobs go onto the delivery queue, dead jobs onto
 * the dead-letter queue, the backstop's arrivals are read back, unroutable events are kept. The SQS
 * adapters (shared/adapters/delivery-queue.ts) implement them.
 */
import type { DeliveryJob } from "../delivery/job.ts";

export interface EnqueueResult {
  readonly sent: number;
  readonly requests: number;
}

/** The delivery queue as the router, the API and the delivery function use it. */
export interface DeliveryQueue {
  /** Every job, in batches; throws EnqueueFailedError naming what could not be queued. */
  enqueue(jobs: readonly DeliveryJob[]): Promise<EnqueueResult>;
  /** One job, visible after `delaySeconds` (0–900); returns the new message's id. */
  send(job: DeliveryJob, delaySeconds?: number): Promise<string>;
  /** Keeps a received message hidden `seconds` more (1–3,600), from now. */
  hold(receiptHandle: string, seconds: number): Promise<void>;
}

/** A queue whose received messages are let go (visible again at once) or deleted by receipt handle. */
export interface ReceivedMessages {
  release(receiptHandle: string): Promise<void>;
  delete(receiptHandle: string): Promise<void>;
}

/** One message of the dead-letter queue; `reason` null: SQS moved it there (the backstop), not our code. */
export interface DeadLetter {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly reason: string | null;
}

/** One message of the backstop queue: a delivery job SQS's redrive moved there by itself. */
export interface BackstopArrival {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
}

/** The delivery backstop queue: the redrive target of both delivery lanes. */
export interface BackstopQueue extends ReceivedMessages {
  /** Up to ten arrivals, long-polling up to `waitSeconds`; an empty answer means drained. */
  receive(waitSeconds?: number, visibilitySeconds?: number): Promise<BackstopArrival[]>;
}

/** The delivery dead-letter queue: a job whose attempts are over, with the reason. */
export interface DeadLetterQueue extends ReceivedMessages {
  receive(visibilitySeconds?: number): Promise<DeadLetter[]>;
  /** Returns the new message's id. */
  send(job: DeliveryJob, reason: string, details?: Record<string, string>): Promise<string>;
}

/** An event the router could not route, kept for operators with the reason. */
export interface UnroutableRecord {
  readonly reason: string;
  readonly details: readonly string[];
  readonly received_at: string;
  readonly event: unknown;
}

export interface UnroutableQueue {
  send(record: UnroutableRecord): Promise<void>;
}
