import { Duration, type RemovalPolicy } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { eventRulePattern } from "#shared/domain/events/catalogue.ts";
import { terminalQueue } from "./queues.ts";

/** EventBridge retries a failed invocation of the router this many times (its maximum). */
export const INGEST_RETRY_ATTEMPTS = 185;
/** ...for at most this long (its maximum), then the event goes to the ingest dead-letter queue. */
export const INGEST_MAX_EVENT_AGE = Duration.hours(24);

export interface EventIngestProps {
  /** Name of the bus to create, or of the existing bus to attach to. */
  readonly eventBusName: string;
  /**
   * Attach to the existing bus named `eventBusName` instead of creating it.
   * @default false
   */
  readonly attachToExistingBus?: boolean;
  /** The rule's target. */
  readonly router: lambda.IFunction;
  /** Physical name of the rule target's dead-letter queue. */
  readonly deadLetterQueueName: string;
  /**
   * Removal policy of the dead-letter queue (it holds events not yet delivered).
   * @default RemovalPolicy.DESTROY
   */
  readonly deadLetterQueueRemovalPolicy?: RemovalPolicy;
}

/**
 * Where VoIPBIN services put their events: the bus, and the rule that hands every `voipbin.*` event
 * to the router.
 *
 * The rule pattern is `eventRulePattern()` from the catalogue module, the one the local stack's
 * EventBridge applies too. It selects on the source only, not on the detail-type: an event of an
 * unknown type must reach the router to be parked on the unroutable queue with its reason
 * (PRODUCT §2); a detail-type filter would make EventBridge drop it silently (and 97 types would
 * exceed the 2048-character pattern quota).
 *
 * EventBridge invokes the router asynchronously; if even that invocation fails (throttled beyond its
 * retries, permissions), the event goes to the ingest dead-letter queue.
 */
export class EventIngest extends Construct {
  readonly bus: events.IEventBus;
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventIngestProps) {
    super(scope, id);
    this.bus = props.attachToExistingBus
      ? events.EventBus.fromEventBusName(this, "Bus", props.eventBusName)
      : new events.EventBus(this, "Bus", {
          eventBusName: props.eventBusName,
          description: "VoIPBIN resource events (source voipbin.<service>), fanned out to webhooks",
        });

    this.deadLetterQueue = terminalQueue(this, "DeadLetterQueue", {
      queueName: props.deadLetterQueueName,
      ...(props.deadLetterQueueRemovalPolicy ? { removalPolicy: props.deadLetterQueueRemovalPolicy } : {}),
      noDlqReason:
        "The ingest dead-letter queue is itself a dead-letter store: the EventBridge rule target's DLQ, holding events EventBridge could not hand to the router, for an operator to re-put on the bus (alarmed when not empty).",
    });

    this.rule = new events.Rule(this, "ToRouter", {
      eventBus: this.bus,
      description:
        "Every voipbin.* event to the webhook router (unknown types included: the router parks them)",
      eventPattern: toEventPattern(eventRulePattern()),
      targets: [
        new targets.LambdaFunction(props.router, {
          retryAttempts: INGEST_RETRY_ATTEMPTS,
          maxEventAge: INGEST_MAX_EVENT_AGE,
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });
  }
}

/**
 * The catalogue's pattern, verbatim. CDK types content filters (`{ prefix }`) as `string[]` produced by
 * `events.Match`; a plain copy of the shared pattern renders identically and keeps one source of truth.
 */
function toEventPattern(pattern: ReturnType<typeof eventRulePattern>): events.EventPattern {
  return structuredClone(pattern) as unknown as events.EventPattern;
}
