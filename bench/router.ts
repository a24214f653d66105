import { randomUUID } from "node:crypto";
import { createRouterHandler } from "#handlers/router.ts";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { loadConfig } from "#shared/config.ts";
import { createRouterDependencies } from "#shared/dependencies.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { deliveryQueueSettings } from "#shared/resources.ts";
import { createLocalClients, ensureQueues, ensureTable } from "../local/provision.ts";
import { AwsRequestCounter } from "./lib/aws-counter.ts";
import { startEmulators } from "./lib/emulators.ts";
import { fixturePayload, runWithConcurrency, silentLogger } from "./lib/util.ts";

export interface RouterBenchOptions {
  readonly fanouts: readonly number[];
  readonly events: number;
  readonly concurrency: number;
  readonly progress: (message: string) => void;
}

export interface RouterBenchResult {
  events_per_s: Record<string, number>;
  aws_requests_per_event: Record<string, number>;
  requests_by_operation: Record<string, Record<string, number>>;
  events: number;
  concurrency: number;
}

/**
 * The router handler against dynalite and fauxqs: events per second and AWS API calls per event
 * (counted on the wire by an SDK middleware, retries included) for customers with 1, 10 and 50
 * matching subscriptions.
 */
export async function benchRouter(options: RouterBenchOptions): Promise<RouterBenchResult> {
  const emulators = await startEmulators();
  try {
    const suffix = randomUUID().slice(0, 8);
    const local = createLocalClients({ ...emulators, region: "us-east-1" });
    await ensureTable(local.dynamodb, `bench-r-${suffix}`);
    const queues = await ensureQueues(
      local.sqs,
      {
        deliveryQueue: `bench-rd-${suffix}`,
        deliveryDlq: `bench-rdlq-${suffix}`,
        unroutableQueue: `bench-ru-${suffix}`,
        slowDeliveryQueue: `bench-rs-${suffix}`,
      },
      deliveryQueueSettings([5]),
    );
    process.env.AWS_ACCESS_KEY_ID ??= "local";
    process.env.AWS_SECRET_ACCESS_KEY ??= "local";
    const config = loadConfig({
      TABLE_NAME: `bench-r-${suffix}`,
      DELIVERY_QUEUE_URL: queues.deliveryQueueUrl,
      DELIVERY_DLQ_URL: queues.deliveryDlqUrl,
      UNROUTABLE_QUEUE_URL: queues.unroutableQueueUrl,
      DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
      SQS_ENDPOINT: emulators.sqsEndpoint,
    });
    const clients = createAwsClients(config);
    const counter = new AwsRequestCounter();
    counter.attach(clients.dynamodb, "dynamodb");
    counter.attach(clients.sqs, "sqs");
    const handler = createRouterHandler(createRouterDependencies(config, clients), silentLogger as never);
    const subscriptions = new SubscriptionRepository(clients.doc, config.TABLE_NAME);
    const data = fixturePayload("call_hangup");

    const result: RouterBenchResult = {
      events_per_s: {},
      aws_requests_per_event: {},
      requests_by_operation: {},
      events: options.events,
      concurrency: options.concurrency,
    };
    for (const fanout of options.fanouts) {
      options.progress(`router: fan-out ${fanout}`);
      const customer = randomUUID();
      for (let i = 0; i < fanout; i++) {
        await subscriptions.create(
          newSubscription({ customer_id: customer, url: `https://hooks.example.com/${i}` }),
        );
      }
      // Another subscription of the same customer that does not match: routing reads it and skips it.
      await subscriptions.create(
        newSubscription({
          customer_id: customer,
          url: "https://hooks.example.com/sms",
          event_types: ["message_*"],
        }),
      );
      const events = Array.from({ length: options.events }, () => ({
        version: "0",
        id: randomUUID(),
        "detail-type": "call_hangup",
        source: "voipbin.call-manager",
        account: "000000000000",
        time: new Date().toISOString(),
        region: "us-east-1",
        resources: [],
        detail: { customer_id: customer, data: { ...data, customer_id: customer } },
      }));
      await handler(events[0]); // warm-up, not counted
      counter.reset();
      const started = performance.now();
      await runWithConcurrency(events, options.concurrency, async (event) => {
        const outcome = await handler(event);
        if (!("kind" in outcome) || outcome.kind !== "routed" || outcome.matched !== fanout)
          throw new Error(`unexpected outcome ${JSON.stringify(outcome)}`);
      });
      const seconds = (performance.now() - started) / 1000;
      const key = `fanout_${fanout}`;
      result.events_per_s[key] = Math.round((options.events / seconds) * 10) / 10;
      result.aws_requests_per_event[key] = Math.round((counter.total / options.events) * 100) / 100;
      result.requests_by_operation[key] = counter.snapshot();
    }
    return result;
  } finally {
    await emulators.stop();
  }
}
