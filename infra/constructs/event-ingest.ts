import { Duration, type RemovalPolicy } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { type RouterRule, routerRules } from "#shared/domain/events/catalogue.ts";
import { terminalQueue } from "./queues.ts";

/** EventBridge retries a failed send to the router queue this many times (its maximum). */
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
  /** The rules' target: the router's fair queue. */
  readonly routerQueue: sqs.IQueue;
  /** Physical name of the rule target's dead-letter queue. */
  readonly deadLetterQueueName: string;
  /**
   * Removal policy of the dead-letter queue (it holds events not yet delivered).
   * @default RemovalPolicy.DESTROY
   */
  readonly deadLetterQueueRemovalPolicy?: RemovalPolicy;
}

/**
 * Where VoIPBIN services put their events: the bus, and the two rules that send every `voipbin.*`
 * event to the router's fair queue (`routerRules()` from the catalogue module, the ones the local
 * stack's EventBridge applies too): events with a customer id grouped by it (SqsParameters
 * MessageGroupId as the dynamic path `$.detail.customer_id`), every other one without a group, so
 * that the router can park it with its reason.
 *
 * The rules select on the source (and the shape of the customer id) only, not on the detail-type: an
 * event of an unknown type must reach the router to be parked on the unroutable queue with its reason
 * (PRODUCT §2); a detail-type filter would make EventBridge drop it silently (and 97 types would
 * exceed the 2048-character pattern quota).
 *
 * If EventBridge cannot send an event to the queue (permissions, a customer id SQS refuses as a group
 * id: over 128 characters), it retries for up to 24 hours, then puts the event on the ingest
 * dead-letter queue.
 */
export class EventIngest extends Construct {
  readonly bus: events.IEventBus;
  /** The rule of events with a customer id (grouped by it), and the rule of all other events. */
  readonly rule: events.Rule;
  readonly ungroupedRule: events.Rule;
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

    const rule = (spec: RouterRule) =>
      new events.Rule(this, spec.id, {
        eventBus: this.bus,
        description: spec.description,
        eventPattern: toEventPattern(spec.eventPattern),
        targets: [
          new targets.SqsQueue(props.routerQueue, {
            ...(spec.messageGroupIdPath === undefined ? {} : { messageGroupId: spec.messageGroupIdPath }),
            retryAttempts: INGEST_RETRY_ATTEMPTS,
            maxEventAge: INGEST_MAX_EVENT_AGE,
            deadLetterQueue: this.deadLetterQueue,
          }),
        ],
      });
    const [fair, ungrouped] = routerRules();
    if (fair === undefined || ungrouped === undefined) throw new Error("routerRules() lists two rules");
    this.rule = rule(fair);
    this.ungroupedRule = rule(ungrouped);
  }
}

/**
 * The catalogue's pattern, verbatim. CDK types content filters (`{ prefix }`) as `string[]` produced by
 * `events.Match`; a plain copy of the shared pattern renders identically and keeps one source of truth.
 */
function toEventPattern(pattern: RouterRule["eventPattern"]): events.EventPattern {
  return structuredClone(pattern) as unknown as events.EventPattern;
}
