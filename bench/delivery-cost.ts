import { randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand as SqsReceive,
} from "@aws-sdk/client-sqs";
import { createDeliveryHandler } from "#handlers/delivery.ts";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { DeliveryQueue } from "#shared/adapters/delivery-queue.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from "#shared/config.ts";
import { createDeliveryDependencies, createRouterDependencies } from "#shared/dependencies.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { routeEvent } from "#shared/services/route-event.ts";
import { toSqsRecord } from "../local/sqs-event-source.ts";
import { type Item, requestUnits, snapshotOf } from "./lib/dynamo-units.ts";
import { provisionDeliveryEnvironment, scanBothTables, startEmulators } from "./lib/emulators.ts";
import { startBenchReceiver } from "./lib/receiver.ts";
import { installSdkMeter } from "./lib/sdk-meter.ts";
import { callHangupEvent, fixturePayload, lambdaContext, silentLogger } from "./lib/util.ts";

/**
 * Write units of a delivery that fails every attempt until it is dead (PRODUCT §4: eight attempts
 * over ~27 hours), with the default schedule, measured on the real router and delivery handler
 * against dynalite: every DynamoDB request is captured on the wire and priced by DynamoDB's rounding
 * rules (bench/lib/dynamo-units.ts). Time is the handler's injected clock, moved to each delivery's
 * `next_attempt_at`, so the 27 hours take seconds. The endpoint answers 503 with a 4 KiB HTML error
 * page (an error page with a stack trace, as servers send them).
 */
export interface DeadDeliveryCostResult {
  deliveries: number;
  subscriptions: number;
  attempts_per_delivery: number;
  error_body_bytes: number;
  wru_per_delivery: number;
  /** Requests by DynamoDB operation, per delivery. */
  dynamodb_requests_per_delivery: Record<string, number>;
}

/** A realistic 4 KiB error page: an HTML 503 with a Java stack trace, what a failing server sends. */
export function errorPage(bytes = 4096): string {
  const frames = [
    "at org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
    "at org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:166)",
    "at com.example.hooks.VoipbinWebhookController.receive(VoipbinWebhookController.java:88)",
    "at org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1791)",
    "at java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "at com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
  ];
  let page =
    "<!doctype html><html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1>" +
    `<p>Request id ${randomUUID()}: connection pool exhausted (timeout 30000 ms).</p><pre>`;
  for (let i = 0; Buffer.byteLength(page) < bytes - 40; i++) {
    page += `\n  ${frames[i % frames.length]} [${(i * 7919) % 9973}]`;
  }
  page += "</pre></body></html>";
  return page.slice(0, bytes).padEnd(bytes, " ");
}

export async function benchDeadDeliveryCost(options: {
  deliveries: number;
  progress: (message: string) => void;
}): Promise<DeadDeliveryCostResult> {
  const result = await measureDeliveryWrites({
    events: options.deliveries,
    fanout: 1,
    answer: { status: 503, body: errorPage() },
  });
  if (result.dead !== options.deliveries) {
    throw new Error(`${result.dead} of ${options.deliveries} deliveries ended dead`);
  }
  options.progress(
    `dead delivery cost: ${result.wru_per_delivery} WRU per delivery dead after ${result.attempts_per_delivery} attempts`,
  );
  return {
    deliveries: result.deliveries,
    subscriptions: 1,
    attempts_per_delivery: result.attempts_per_delivery,
    error_body_bytes: Buffer.byteLength(errorPage()),
    wru_per_delivery: result.wru_per_delivery,
    dynamodb_requests_per_delivery: result.dynamodb_requests_per_delivery,
  };
}

export interface FirstAttemptCostResult {
  deliveries: number;
  fanout: number;
  event_body_bytes: number;
  wru_per_delivery: number;
  dynamodb_requests_per_delivery: Record<string, number>;
}

/**
 * Write units of a delivery whose first attempt succeeds: `call_hangup` events (a ~1.3 KB body) at
 * fan-out 3, through the real router and delivery handler. The same counting as the e2e run, on a
 * load-independent count of requests (the e2e run's number comes from whatever it delivered).
 */
export async function benchFirstAttemptCost(options: {
  events: number;
  progress: (message: string) => void;
}): Promise<FirstAttemptCostResult> {
  const result = await measureDeliveryWrites({ events: options.events, fanout: 3, answer: { status: 204 } });
  options.progress(`first-attempt cost: ${result.wru_per_delivery} WRU per delivery at fan-out 3`);
  return {
    deliveries: result.deliveries,
    fanout: 3,
    event_body_bytes: Buffer.byteLength(
      JSON.stringify({ type: "call_hangup", data: fixturePayload("call_hangup") }),
    ),
    wru_per_delivery: result.wru_per_delivery,
    dynamodb_requests_per_delivery: result.dynamodb_requests_per_delivery,
  };
}

async function measureDeliveryWrites(options: {
  events: number;
  fanout: number;
  answer: { status: number; body?: string };
}) {
  const emulators = await startEmulators();
  const receiver = await startBenchReceiver(undefined, options.answer);
  const sdk = installSdkMeter({ keepDynamoBodies: true });
  try {
    const { local, queues, config } = await provisionDeliveryEnvironment(
      emulators,
      "cost",
      DEFAULT_RETRY_SCHEDULE_SECONDS,
    );
    const tableName = config.TABLE_NAME;
    const clients = createAwsClients(config);
    const customer = randomUUID();
    for (let n = 0; n < options.fanout; n++) {
      await new SubscriptionRepository(clients.doc, tableName).create(
        newSubscription({ customer_id: customer, url: `${receiver.url}/hook` }),
      );
    }

    let clock = Date.now();
    const deps = createDeliveryDependencies(config, silentLogger, { clients, now: () => new Date(clock) });
    // The bench's clock is simulated, SQS's delays are not: a job re-sent to wait (a retry, a hop of
    // 900 s) is kept here and put on the queue — one SendMessage, as the function would — when the
    // simulated clock reaches its delay (docs/delivery.md, "Waits out of flight").
    const waiting: { job: DeliveryJob; dueAt: number }[] = [];
    const realQueue = new DeliveryQueue(clients.sqs, queues.deliveryQueueUrl);
    const handler = createDeliveryHandler({
      ...deps,
      queue: {
        send: async (job, delaySeconds = 0) => {
          waiting.push({ job, dueAt: clock + delaySeconds * 1000 });
          return randomUUID();
        },
        // The simulation keeps no copy in flight: a copy kept until a hand-off settles never arises.
        hold: async () => {},
      },
    });
    const router = createRouterDependencies(config, clients);
    sdk.reset();
    sdk.active = true;
    const data = fixturePayload("call_hangup");
    for (let i = 0; i < options.events; i++) {
      await routeEvent(callHangupEvent(customer, data, new Date(clock)), router);
    }
    // Receive, deliver, and move the clock to the next wait's end until nothing is queued or waiting.
    // Each round hands every visible job to the handler once (batches of ten, jobs failed on our side
    // set aside until the round ends), then moves the clock to the earliest waiting job's time and
    // sends every job due by then: each retry and each 900 s hop is a round, as the queue would run
    // it over hours. Rounds are not capped by count: with jitter every delivery's hops fall at times
    // of their own (~110 rounds per dead delivery with the default schedule), so a count cap ended
    // the run with deliveries still waiting. The bound is simulated time instead: twice the schedule
    // plus a day, which no delivery of a working core comes near.
    const schedule = DEFAULT_RETRY_SCHEDULE_SECONDS.reduce((sum, s) => sum + s, 0);
    const endOfRun = clock + (2 * schedule + 86_400) * 1000;
    for (;;) {
      if (clock > endOfRun)
        throw new Error("delivery-cost: simulated deliveries still waiting past their schedule");
      const kept: string[] = [];
      let handled = 0;
      for (;;) {
        const { Messages = [] } = await local.sqs.send(
          new SqsReceive({
            QueueUrl: queues.deliveryQueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 600,
            MessageSystemAttributeNames: ["All"],
          }),
        );
        if (Messages.length === 0) break;
        handled += Messages.length;
        const records = Messages.map((m) =>
          toSqsRecord(m, "arn:aws:sqs:us-east-1:000000000000:cost", "us-east-1"),
        );
        const response = await handler({ Records: records }, lambdaContext("delivery"));
        const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        for (const record of records) {
          const target = { QueueUrl: queues.deliveryQueueUrl, ReceiptHandle: record.receiptHandle };
          if (failed.has(record.messageId)) {
            // Hidden for the rest of the round; made visible when the clock moves on.
            await local.sqs.send(new ChangeMessageVisibilityCommand({ ...target, VisibilityTimeout: 600 }));
            kept.push(record.receiptHandle);
          } else {
            await local.sqs.send(new DeleteMessageCommand(target));
          }
        }
      }
      if (handled === 0 && waiting.length === 0) break;
      for (const receiptHandle of kept) {
        await local.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queues.deliveryQueueUrl,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
      if (waiting.length > 0) {
        clock = Math.max(clock, Math.min(...waiting.map((w) => w.dueAt)));
        const due = waiting.filter((w) => w.dueAt <= clock);
        waiting.splice(0, waiting.length, ...waiting.filter((w) => w.dueAt > clock));
        for (const { job } of due) await realQueue.send(job);
      }
    }
    sdk.active = false;
    const items = (await scanBothTables(local.dynamodb, config)) as unknown as Item[];
    const heads = items.filter((item) => item.entity?.S === "delivery");
    const deliveries = heads.length;
    const dead = heads.filter((item) => item.status?.S === "dead").length;
    const attempts =
      items.filter((item) => String(item.SK?.S ?? "").startsWith("A#")).length +
      heads.filter((item) => item.a1z !== undefined).length;
    const units = requestUnits(sdk.parsedDynamoRequests(), snapshotOf(items));
    const byOperation = Object.fromEntries(
      Object.entries(sdk.snapshot())
        .filter(([op]) => op.startsWith("dynamodb."))
        .map(([op, n]) => [op, Math.round((n / deliveries) * 100) / 100]),
    );
    return {
      deliveries,
      dead,
      attempts_per_delivery: attempts / deliveries,
      wru_per_delivery: Math.round((units.wru / deliveries) * 100) / 100,
      dynamodb_requests_per_delivery: byOperation,
    };
  } finally {
    sdk.uninstall();
    await receiver.close();
    await emulators.stop();
  }
}
