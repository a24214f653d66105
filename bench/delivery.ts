import { randomUUID } from "node:crypto";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { createDeliveryHandler } from "#handlers/delivery.ts";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { keys } from "#shared/adapters/dynamodb/table.ts";
import { HttpSender } from "#shared/adapters/http-sender.ts";
import { createDeliveryDependencies, destinationPolicyFor } from "#shared/dependencies.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { webhookBody } from "#shared/domain/events/schemas.ts";
import { deriveDeliveryIds } from "#shared/domain/ids.ts";
import { signDelivery } from "#shared/domain/signing.ts";
import type { SubscriptionWithSecrets } from "#shared/domain/subscriptions/subscription.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { AwsRequestCounter } from "./lib/aws-counter.ts";
import { provisionDeliveryEnvironment, startEmulators } from "./lib/emulators.ts";
import { startBenchReceiver } from "./lib/receiver.ts";
import { median } from "./lib/stats.ts";
import { fixturePayload, lambdaContext, runWithConcurrency, silentLogger } from "./lib/util.ts";

export interface DeliveryBenchOptions {
  readonly deliveries: number;
  /** Delivery function invocations (batches of 10) in flight at once; the raw loop runs 10× as many workers. */
  readonly invocations: number;
  readonly rounds: number;
  readonly progress: (message: string) => void;
}

export interface DeliveryBenchResult {
  deliveries_per_s: number;
  raw_http_per_s: number;
  ratio_to_raw_http: number;
  deliveries: number;
  concurrency: number;
  /** AWS requests per delivery on the wire (retries included), by operation: handler vs bare loop. */
  aws_requests_per_delivery: { handler: Record<string, number>; raw: Record<string, number> };
  /**
   * CPU time of this process per delivery (µs; median of the rounds): the handler, and the bare loop
   * doing the same sends and writes. Both include the local receiver's share (same process, same
   * requests); dynalite runs in its own process and is not in either.
   */
  handler_cpu_us_per_delivery: number;
  raw_cpu_us_per_delivery: number;
  rounds: {
    deliveries_per_s: number;
    raw_http_per_s: number;
    handler_cpu_us_per_delivery: number;
    raw_cpu_us_per_delivery: number;
  }[];
}

/** A run's rate and this process's CPU per delivery (µs). */
interface RunMeasure {
  perS: number;
  cpuUs: number;
}

function measured(deliveries: number, started: number, cpu: NodeJS.CpuUsage): RunMeasure {
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { perS: deliveries / seconds, cpuUs: (used.user + used.system) / deliveries };
}

/**
 * The delivery handler (real signing, real HTTP to a local receiver, real record writes to an
 * in-process dynalite) against a bare loop doing only the irreducible work of a delivery with the
 * same clients and concurrency: one HTTP POST of the same body and one PutItem of the same size.
 * The two alternate round by round so that machine noise hits both alike; the ratio is the median
 * of the rounds' paired ratios.
 */
export async function benchDelivery(options: DeliveryBenchOptions): Promise<DeliveryBenchResult> {
  const emulators = await startEmulators();
  const receiver = await startBenchReceiver();
  try {
    const { config } = await provisionDeliveryEnvironment(emulators, "bench", [5]);
    const clients = createAwsClients(config);
    const counter = new AwsRequestCounter();
    counter.attach(clients.dynamodb, "dynamodb");
    counter.attach(clients.sqs, "sqs");
    counter.attach(clients.eventBridge, "eventbridge");
    const requestsPerDelivery: DeliveryBenchResult["aws_requests_per_delivery"] = { handler: {}, raw: {} };
    const perDelivery = () =>
      Object.fromEntries(
        Object.entries(counter.snapshot()).map(([op, n]) => [
          op,
          Math.round((n / options.deliveries) * 1000) / 1000,
        ]),
      );
    const customer = randomUUID();
    const subscriptions = new SubscriptionRepository(clients.doc, config.TABLE_NAME);
    const subs: SubscriptionWithSecrets[] = [];
    for (let i = 0; i < 20; i++) {
      const subscription = newSubscription({ customer_id: customer, url: `${receiver.url}/hook/${i}` });
      await subscriptions.create(subscription);
      subs.push(subscription);
    }
    const payload = webhookBody("call_hangup", fixturePayload("call_hangup"));
    const handler = createDeliveryHandler(createDeliveryDependencies(config, silentLogger, { clients }));
    const sender = new HttpSender({ policy: destinationPolicyFor(config) });

    let lastDeliveryId = "";
    const makeBatches = (): SQSEvent[] => {
      const records: SQSRecord[] = [];
      for (let i = 0; i < options.deliveries; i++) {
        const sub = subs[i % subs.length];
        if (!sub) throw new Error("no subscription");
        const eventId = randomUUID();
        const ids = deriveDeliveryIds(eventId, sub.id, new Date());
        lastDeliveryId = ids.deliveryId;
        const job: DeliveryJob = {
          v: 1,
          delivery_id: ids.deliveryId,
          webhook_id: ids.webhookId,
          subscription_id: sub.id,
          customer_id: customer,
          event_id: eventId,
          event_type: "call_hangup",
          payload,
        };
        records.push(sqsRecord(JSON.stringify(job)));
      }
      const batches: SQSEvent[] = [];
      for (let i = 0; i < records.length; i += 10) batches.push({ Records: records.slice(i, i + 10) });
      return batches;
    };

    const runHandler = async (): Promise<RunMeasure> => {
      counter.reset();
      const batches = makeBatches();
      const cpu = process.cpuUsage();
      const started = performance.now();
      let failures = 0;
      await runWithConcurrency(batches, options.invocations, async (batch) => {
        const response = await handler(batch, lambdaContext("delivery"));
        failures += response.batchItemFailures.length;
      });
      const run = measured(options.deliveries, started, cpu);
      if (failures > 0) throw new Error(`${failures} deliveries failed during the benchmark`);
      requestsPerDelivery.handler = perDelivery();
      return run;
    };

    // The bare loop writes a copy of a record the handler wrote (same attributes and size, GSI1
    // included) under a new key; a stand-in of the same shape until the first handler round ran.
    let template: Record<string, unknown> = {
      payload,
      attempts: [
        { at: new Date().toISOString(), status_code: 204, error: null, latency_ms: 1, response_body: "" },
      ],
      status: "succeeded",
    };
    const rawItem = () => ({ ...template, PK: `DELIVERY#${randomUUID()}`, SK: "DELIVERY" });
    const runRaw = async (): Promise<RunMeasure> => {
      counter.reset();
      const work = Array.from({ length: options.deliveries }, (_, i) => i);
      const cpu = process.cpuUsage();
      const started = performance.now();
      await runWithConcurrency(work, options.invocations * 10, async (i) => {
        const sub = subs[i % subs.length];
        if (!sub) throw new Error("no subscription");
        const now = new Date();
        const result = await sender.send({
          url: sub.url,
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...signDelivery({
              webhookId: `msg_${i}aaaaaaaa`,
              timestamp: now,
              body: payload,
              secrets: [sub.secret],
            }),
          },
          body: payload,
          timeoutMs: 15_000,
          maxResponseBodyBytes: 4096,
        });
        if (result.kind !== "response") throw new Error(`raw HTTP failed: ${result.error}`);
        await clients.doc.send(new PutCommand({ TableName: config.DELIVERIES_TABLE_NAME, Item: rawItem() }));
      });
      const run = measured(options.deliveries, started, cpu);
      requestsPerDelivery.raw = perDelivery();
      return run;
    };

    options.progress("delivery: warm-up");
    await runHandler();
    const written = await clients.doc.send(
      new GetCommand({
        TableName: config.DELIVERIES_TABLE_NAME,
        Key: keys.deliveryHead(customer, lastDeliveryId),
      }),
    );
    if (!written.Item) throw new Error("the handler did not write the delivery record");
    template = written.Item;
    await runRaw();
    const rounds: DeliveryBenchResult["rounds"] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const raw = await runRaw();
      const delivered = await runHandler();
      rounds.push({
        deliveries_per_s: delivered.perS,
        raw_http_per_s: raw.perS,
        handler_cpu_us_per_delivery: delivered.cpuUs,
        raw_cpu_us_per_delivery: raw.cpuUs,
      });
      options.progress(
        `delivery: round ${round}/${options.rounds}: handler ${round1(delivered.perS)}/s (${Math.round(delivered.cpuUs)} µs CPU each), bare loop ${round1(raw.perS)}/s (${Math.round(raw.cpuUs)} µs), ratio ${(delivered.perS / raw.perS).toFixed(3)}`,
      );
    }
    const deliveriesPerS = median(rounds.map((r) => r.deliveries_per_s));
    const rawPerS = median(rounds.map((r) => r.raw_http_per_s));
    // Each round pairs a handler run with the bare loop run just before it: the median of those
    // paired ratios is steadier on a shared machine than the ratio of the two medians.
    const ratio = median(rounds.map((r) => r.deliveries_per_s / r.raw_http_per_s));
    sender.close();
    return {
      deliveries_per_s: round1(deliveriesPerS),
      raw_http_per_s: round1(rawPerS),
      aws_requests_per_delivery: requestsPerDelivery,
      ratio_to_raw_http: Math.round(ratio * 1000) / 1000,
      handler_cpu_us_per_delivery: Math.round(median(rounds.map((r) => r.handler_cpu_us_per_delivery))),
      raw_cpu_us_per_delivery: Math.round(median(rounds.map((r) => r.raw_cpu_us_per_delivery))),
      deliveries: options.deliveries,
      concurrency: options.invocations * 10,
      rounds: rounds.map((r) => ({
        deliveries_per_s: round1(r.deliveries_per_s),
        raw_http_per_s: round1(r.raw_http_per_s),
        handler_cpu_us_per_delivery: Math.round(r.handler_cpu_us_per_delivery),
        raw_cpu_us_per_delivery: Math.round(r.raw_cpu_us_per_delivery),
      })),
    };
  } finally {
    await receiver.close();
    await emulators.stop();
  }
}

function sqsRecord(body: string): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: now,
      SenderId: "000000000000",
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:bench",
    awsRegion: "us-east-1",
  };
}

const round1 = (n: number) => Math.round(n * 10) / 10;
