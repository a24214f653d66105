import { randomUUID } from "node:crypto";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { createRouterHandler } from "#handlers/router.ts";
import { createAwsClients } from "#shared/adapters/clients.ts";
import { ActiveflowDestinationRepository } from "#shared/adapters/dynamodb/activeflow-destinations.ts";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { loadConfig } from "#shared/config.ts";
import { createRouterDependencies } from "#shared/dependencies.ts";
import { parseRoutableEvent } from "#shared/domain/events/schemas.ts";
import type { RoutingSubscription } from "#shared/domain/ports/subscriptions.ts";
import { filterProblems, type PayloadFilter } from "#shared/domain/subscriptions/filter.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { deliveryQueueSettings } from "#shared/resources.ts";
import { buildDeliveryJobs } from "#shared/services/route-event.ts";
import { createLocalClients, ensureDeliveriesTable, ensureQueues, ensureTable } from "../local/provision.ts";
import { AwsRequestCounter } from "./lib/aws-counter.ts";
import { type Item, requestUnits, snapshotOf } from "./lib/dynamo-units.ts";
import { startEmulators } from "./lib/emulators.ts";
import { installSdkMeter } from "./lib/sdk-meter.ts";
import { callHangupEvent, fixturePayload, runWithConcurrency, silentLogger } from "./lib/util.ts";

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
  /**
   * Issue 24: the router's CPU per event for a customer with 10 matching subscriptions, each without
   * a filter and each with a 20-condition payload filter (every condition evaluated: the event
   * matches), the filters read back from their stored JSON text as the router does.
   */
  filter?: {
    clauses: number;
    fanout: number;
    cpu_us_per_event: { none: number; filter_20: number };
    added_us_per_event: number;
  };
  /**
   * PRODUCT §11: what a managed legacy subscription costs the router. `today`: a customer with one
   * subscription for every event and one that does not match; `managed`: the same customer plus its
   * managed legacy subscription. Then what one control event (customer_updated) costs.
   */
  managed?: {
    aws_requests_per_event: { today: number; managed: number };
    rru_per_event: { today: number; managed: number };
    control_event: { aws_requests: number; rru: number; wru: number; by_operation: Record<string, number> };
    /** Issue 21: events naming an activeflow, for a customer with a managed subscription. */
    activeflow: {
      aws_requests_per_event: { without_destination: number; with_destination: number };
      rru_per_event: { without_destination: number; with_destination: number };
      /** Routing throughput with 1,000 live activeflow destinations / with none (goal ≥ 0.9). */
      events_per_s_ratio_1000_destinations: number;
    };
  };
}

/**
 * The router handler against dynalite and the local SQS: events per second and AWS API calls per event
 * (counted on the wire by an SDK middleware, retries included) for customers with 1, 10 and 50
 * matching subscriptions.
 */
export async function benchRouter(options: RouterBenchOptions): Promise<RouterBenchResult> {
  const emulators = await startEmulators();
  try {
    const suffix = randomUUID().slice(0, 8);
    const local = createLocalClients({ ...emulators, region: "us-east-1" });
    await ensureTable(local.dynamodb, `bench-r-${suffix}`);
    await ensureDeliveriesTable(local.dynamodb, `bench-rdt-${suffix}`);
    const queues = await ensureQueues(
      local.sqs,
      {
        deliveryQueue: `bench-rd-${suffix}`,
        deliveryDlq: `bench-rdlq-${suffix}`,
        deliveryBackstop: `bench-rb-${suffix}`,
        unroutableQueue: `bench-ru-${suffix}`,
        slowDeliveryQueue: `bench-rs-${suffix}`,
      },
      deliveryQueueSettings([5]),
    );
    process.env.AWS_ACCESS_KEY_ID ??= "local";
    process.env.AWS_SECRET_ACCESS_KEY ??= "local";
    const config = loadConfig({
      TABLE_NAME: `bench-r-${suffix}`,
      DELIVERIES_TABLE_NAME: `bench-rdt-${suffix}`,
      DELIVERY_QUEUE_URL: queues.deliveryQueueUrl,
      DELIVERY_DLQ_URL: queues.deliveryDlqUrl,
      DELIVERY_BACKSTOP_QUEUE_URL: queues.deliveryBackstopUrl,
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
      const events = Array.from({ length: options.events }, () => callHangupEvent(customer, data));
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
    options.progress("router: payload filter cost");
    result.filter = benchFilterCost(data, options.events * 20);
    options.progress("router: managed legacy subscription and control events");
    result.managed = await benchManaged(handler, subscriptions, clients, config.TABLE_NAME, data, options);
    return result;
  } finally {
    await emulators.stop();
  }
}

/** The router's cost per event with and without a managed subscription, and a control event's cost. */
async function benchManaged(
  handler: ReturnType<typeof createRouterHandler>,
  subscriptions: SubscriptionRepository,
  clients: ReturnType<typeof createAwsClients>,
  tableName: string,
  data: Record<string, unknown>,
  options: RouterBenchOptions,
): Promise<NonNullable<RouterBenchResult["managed"]>> {
  const secret = "q3Jx-9_Zt0aVbM2kLp8sWn4eYc1HfR6u";
  const customerVersion = (customer: string, n: number) => ({
    id: customer,
    webhook_uri: `https://legacy.example.com/${n}`,
    webhook_method: "POST",
    webhook_secret: secret,
    tm_update: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  });
  const envelope = (type: string, source: string, detail: unknown) => ({
    version: "0",
    id: randomUUID(),
    "detail-type": type,
    source,
    account: "000000000000",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [],
    detail,
  });
  const customerFor = async (managed: boolean) => {
    const customer = randomUUID();
    await subscriptions.create(
      newSubscription({ customer_id: customer, url: "https://hooks.example.com/all" }),
    );
    await subscriptions.create(
      newSubscription({
        customer_id: customer,
        url: "https://hooks.example.com/sms",
        event_types: ["message_*"],
      }),
    );
    if (managed) {
      await handler(
        envelope("customer_created", "voipbin.customer-manager", {
          customer_id: customer,
          data: customerVersion(customer, 0),
        }),
      );
    }
    return customer;
  };
  const events = Math.max(50, Math.min(options.events, 500));
  const sdk = installSdkMeter({ keepDynamoBodies: true });
  try {
    const perEvent = async (customer: string, expected: number, activeflowId: string | null = null) => {
      const batch = Array.from({ length: events }, () =>
        envelope("call_hangup", "voipbin.call-manager", {
          customer_id: customer,
          // Without an activeflow id unless asked: issue 20 compares routing with and without the
          // managed subscription alone; the activeflow lookup is measured apart (issue 21).
          data: {
            ...data,
            customer_id: customer,
            activeflow_id: activeflowId ?? "00000000-0000-0000-0000-000000000000",
          },
        }),
      );
      sdk.reset();
      sdk.active = true;
      await runWithConcurrency(batch, options.concurrency, async (event) => {
        const outcome = await handler(event);
        if (!("kind" in outcome) || outcome.kind !== "routed" || outcome.matched !== expected)
          throw new Error(`unexpected outcome ${JSON.stringify(outcome)}`);
      });
      sdk.active = false;
      const units = requestUnits(sdk.parsedDynamoRequests(), snapshotOf(await scanTable(clients, tableName)));
      return { requests: round(sdk.total() / events), rru: round(units.rru / events) };
    };
    const today = await perEvent(await customerFor(false), 1);
    const managed = await perEvent(await customerFor(true), 2);
    // Issue 21: a managed customer's events naming an activeflow without and with a destination, and
    // the same customer with 1,000 live activeflow destinations (routing must not slow down).
    const flowCustomer = await customerFor(true);
    const flow = randomUUID();
    const noDestination = await perEvent(flowCustomer, 2, flow);
    const started0 = performance.now();
    await perEvent(flowCustomer, 2, randomUUID());
    const eventsPerSecondWithout = events / ((performance.now() - started0) / 1000);
    await handler(
      envelope("activeflow_created", "voipbin.flow-manager", {
        customer_id: flowCustomer,
        data: {
          id: flow,
          customer_id: flowCustomer,
          webhook_uri: "https://flow.example.com/hook",
          tm_create: "2026-01-01T00:00:00Z",
        },
      }),
    );
    const withDestination = await perEvent(flowCustomer, 3, flow);
    const destinations = new ActiveflowDestinationRepository(clients.doc, tableName);
    await runWithConcurrency(
      Array.from({ length: 1000 }, (_, i) => i),
      8,
      async (i) => {
        await destinations.apply(
          flowCustomer,
          {
            activeflowId: randomUUID(),
            version: "2026-01-01T00:00:00.000000000Z",
            target: { url: `https://flow.example.com/${i}`, method: "POST" },
          },
          new Date(),
        );
      },
    );
    const started1000 = performance.now();
    await perEvent(flowCustomer, 2, randomUUID());
    const eventsPerSecondWith1000 = events / ((performance.now() - started1000) / 1000);

    // Control events: customer_updated of existing managed customers, each a newer version.
    const controlled = await Promise.all(Array.from({ length: 20 }, () => customerFor(true)));
    sdk.reset();
    sdk.active = true;
    for (const customer of controlled) {
      const outcome = await handler(
        envelope("customer_updated", "voipbin.customer-manager", {
          customer_id: customer,
          data: customerVersion(customer, 1),
        }),
      );
      if (!("kind" in outcome) || outcome.kind !== "control" || outcome.change !== "updated")
        throw new Error(`unexpected outcome ${JSON.stringify(outcome)}`);
    }
    sdk.active = false;
    const units = requestUnits(sdk.parsedDynamoRequests(), snapshotOf(await scanTable(clients, tableName)));
    const n = controlled.length;
    return {
      aws_requests_per_event: { today: today.requests, managed: managed.requests },
      rru_per_event: { today: today.rru, managed: managed.rru },
      activeflow: {
        aws_requests_per_event: {
          without_destination: noDestination.requests,
          with_destination: withDestination.requests,
        },
        rru_per_event: { without_destination: noDestination.rru, with_destination: withDestination.rru },
        events_per_s_ratio_1000_destinations: round(eventsPerSecondWith1000 / eventsPerSecondWithout),
      },
      control_event: {
        aws_requests: round(sdk.total() / n),
        rru: round(units.rru / n),
        wru: round(units.wru / n),
        by_operation: Object.fromEntries(Object.entries(sdk.snapshot()).map(([op, k]) => [op, round(k / n)])),
      },
    };
  } finally {
    sdk.uninstall();
  }
}

const round = (n: number): number => Math.round(n * 100) / 100;

async function scanTable(clients: ReturnType<typeof createAwsClients>, tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.dynamodb.send(
      new ScanCommand({ TableName: tableName, ...(start ? { ExclusiveStartKey: start as never } : {}) }),
    );
    items.push(...((page.Items ?? []) as unknown as Item[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * 20 conditions over a call_hangup's data, every one true for the sample, so that evaluation cannot
 * stop early: the most a 20-condition filter costs.
 */
export const TWENTY_CLAUSE_FILTER: PayloadFilter = {
  status: "hangup",
  direction: { $in: ["incoming", "outgoing"] },
  hangup_reason: { $neq: "failed" },
  "source.type": "tel",
  "source.target": { $startsWith: "+1555" },
  "destination.target": { $endsWith: "6543" },
  tm_hangup: { $gte: "2026-01-01T00:00:00Z", $lt: "2100-01-01T00:00:00Z" },
  type: { $nin: ["conference"] },
  "action.type": { $exist: true },
  $or: [{ hangup_by: "remote" }, { hangup_by: "local" }],
  $and: [{ "source.type": { $neq: "sip" } }, { mute_direction: { $exist: true } }],
  $not: { status: "progressing" },
  activeflow_id: { $exist: true },
  flow_id: { $exist: true },
  owner_type: "",
  tm_create: { $lte: "2100-01-01" },
  recording_id: { $exist: true },
};

/**
 * Routing CPU per event (matching and building the jobs, as buildDeliveryJobs does in the router),
 * fan-out 10, without filters and with TWENTY_CLAUSE_FILTER on each subscription. In-process and
 * AWS-free: the filter adds no request (it is read with the subscription), only this CPU.
 */
export function benchFilterCost(
  data: Record<string, unknown>,
  iterations: number,
): NonNullable<RouterBenchResult["filter"]> {
  const problems = filterProblems(TWENTY_CLAUSE_FILTER);
  if (problems.length > 0) throw new Error(`bench filter invalid: ${JSON.stringify(problems)}`);
  const customer = randomUUID();
  const event = parseRoutableEvent(callHangupEvent(customer, data));
  const fanout = 10;
  const stored = JSON.stringify(TWENTY_CLAUSE_FILTER);
  const subscriptionsOf = (filtered: boolean): RoutingSubscription[] =>
    Array.from({ length: fanout }, (_, i) => ({
      id: `0196f1a2-0000-7000-8000-0000000000${String(i).padStart(2, "0")}`,
      customer_id: customer,
      event_types: ["call_*"],
      activeflow_id: null,
      status: "enabled" as const,
      // Parsed per event, as listForRouting parses the stored text on every read.
      ...(filtered ? { filter: JSON.parse(stored) as PayloadFilter } : {}),
    }));
  const measure = (filtered: boolean): number => {
    for (let i = 0; i < 200; i++) buildDeliveryJobs(event, subscriptionsOf(filtered)); // warm-up
    const started = process.cpuUsage();
    for (let i = 0; i < iterations; i++) {
      const jobs = buildDeliveryJobs(event, subscriptionsOf(filtered));
      if (jobs.length !== fanout) throw new Error(`expected ${fanout} jobs, got ${jobs.length}`);
    }
    const used = process.cpuUsage(started);
    return (used.user + used.system) / iterations;
  };
  const none = measure(false);
  const filtered = measure(true);
  const round = (us: number) => Math.round(us * 10) / 10;
  let clauses = 0;
  const count = (value: unknown): void => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$and" || key === "$or") for (const f of inner as unknown[]) count(f);
      else if (key === "$not") count(inner);
      else if (
        typeof inner === "object" &&
        inner !== null &&
        Object.keys(inner).some((k) => k.startsWith("$"))
      )
        clauses += Object.keys(inner).length;
      else clauses += 1;
    }
  };
  count(TWENTY_CLAUSE_FILTER);
  return {
    clauses,
    fanout,
    cpu_us_per_event: { none: round(none), filter_20: round(filtered) },
    added_us_per_event: round(filtered - none),
  };
}
