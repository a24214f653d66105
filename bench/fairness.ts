import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { LOCAL_CREDENTIALS } from "../local/provision.ts";
import { LOCAL_HOST } from "../local/settings.ts";
import { createStackLogger, type LocalStack, startLocalStack } from "../local/stack.ts";
import { startBenchReceiver } from "./lib/receiver.ts";
import { type LatencySummary, round, summarize } from "./lib/stats.ts";
import { benchStackSettings, fixturePayload } from "./lib/util.ts";

/**
 * Tenant fairness (PRODUCT §4 "Fairness", issue 11), on the local stack as `npm start` runs it: the
 * healthy customers' end-to-end latency (PutEvents accepted → their endpoint has the request) with a
 * neighbour that sends 20 % of all events to an endpoint that accepts connections and never answers,
 * against the same healthy load with no neighbour: two phases on one fresh stack, with the
 * deployment's defaults (15 s timeout, 3 s main-lane budget, breaker after 5 timeouts).
 *
 * Each run has a warm-up before the measured window: what is compared is the steady state of a
 * neighbour that has been black-holing for a while. The onset (the first seconds of the incident,
 * while the main lane still dials the new black hole with its 3 s budget) is reported on its own.
 */

export interface FairnessBenchOptions {
  /** Healthy events per second (all healthy customers together). */
  readonly healthyRate: number;
  readonly healthyCustomers: number;
  /** Share of all events that are the neighbour's (0.2: the neighbour sends a quarter of the healthy rate). */
  readonly neighbourShare: number;
  readonly warmupS: number;
  readonly measureS: number;
  /** How long to wait for the last healthy deliveries of a run before counting the rest as lost. */
  readonly drainTimeoutMs: number;
  readonly progress: (message: string) => void;
}

export interface FairnessRun {
  readonly healthy_latency_ms: LatencySummary;
  /** Healthy latency over the warm-up (the first seconds of the neighbour's incident included). */
  readonly onset_latency_ms: LatencySummary;
  readonly healthy_events: number;
  readonly healthy_lost: number;
  readonly neighbour_events: number;
  /** Requests the black hole received over the measured window. */
  readonly blackhole_requests: number;
  readonly blackhole_requests_total: number;
}

export interface FairnessBenchResult {
  readonly healthy_p99_ms_with_neighbour: number;
  readonly healthy_p99_ms_alone: number;
  /** with ÷ alone; the goal is ≤ 1.5. */
  readonly p99_ratio: number;
  /** How hard the black hole is hit in steady state (requests per minute over the measured window). */
  readonly blackhole_attempts_per_min: number;
  readonly healthy_p50_ms_with_neighbour: number;
  readonly healthy_p50_ms_alone: number;
  /** p99 of the healthy deliveries during the warm-up with the neighbour: the incident's onset. */
  readonly onset_p99_ms_with_neighbour: number;
  readonly healthy_lost: number;
  readonly healthy_events_per_s: number;
  readonly neighbour_events_per_s: number;
  readonly warmup_s: number;
  readonly measure_s: number;
  readonly runs: { readonly alone: FairnessRun; readonly with_neighbour: FairnessRun };
}

/** Accepts connections, reads what is sent, never answers: the worst an endpoint can do. */
async function startBlackHole(): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (chunk: Buffer) => {
      // One request per request line (no answer ever comes, so no connection carries a second one).
      requests += chunk.toString("latin1").match(/^(POST|PUT|GET|DELETE) /gm)?.length ?? 0;
    });
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, LOCAL_HOST, resolve));
  return {
    url: `http://${LOCAL_HOST}:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface BenchStack {
  readonly repository: SubscriptionRepository;
  readonly events: EventBridgeClient;
  readonly receiver: Awaited<ReturnType<typeof startBenchReceiver>>;
  readonly blackHole: Awaited<ReturnType<typeof startBlackHole>>;
  readonly sent: Map<string, number>;
  readonly arrived: Map<string, number>;
}

/**
 * One measured phase on the running stack, with customers of its own: `healthyCustomers` healthy
 * ones and, with a neighbour, one more whose only subscription points at the black hole.
 */
async function runPhase(
  bench: BenchStack,
  withNeighbour: boolean,
  options: FairnessBenchOptions,
  label: string,
): Promise<FairnessRun> {
  const { repository, events, receiver, blackHole, arrived } = bench;
  const sent = new Map<string, number>();
  const healthy = Array.from({ length: options.healthyCustomers }, () => crypto.randomUUID());
  for (const [c, customer] of healthy.entries()) {
    await repository.create(
      newSubscription({ customer_id: customer, url: `${receiver.url}/${label}/c${c}` }),
    );
  }
  const neighbour = crypto.randomUUID();
  if (withNeighbour) {
    await repository.create(newSubscription({ customer_id: neighbour, url: `${blackHole.url}/hole` }));
  }
  const payload = fixturePayload("call_hangup");
  const put = async (customerId: string, benchId: string) => {
    const data = { ...payload, customer_id: customerId, bench_id: benchId };
    const started = performance.now();
    await events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: "voipbin.call-manager",
            DetailType: "call_hangup",
            Detail: JSON.stringify({ customer_id: customerId, data }),
            EventBusName: "voipbin-events",
          },
        ],
      }),
    );
    return started;
  };

  // Open loop: healthy events at a fixed rate; the neighbour's interleaved at its share of all events.
  const neighbourRate = withNeighbour
    ? (options.healthyRate * options.neighbourShare) / (1 - options.neighbourShare)
    : 0;
  const totalS = options.warmupS + options.measureS;
  const begin = performance.now();
  const measureFrom = begin + options.warmupS * 1000;
  let blackholeAtMeasureStart = blackHole.requests();
  const blackholeAtStart = blackHole.requests();
  let healthySeq = 0;
  let neighbourSeq = 0;
  const inFlight = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    inFlight.add(work);
    work.finally(() => inFlight.delete(work));
  };
  options.progress(
    `fairness: ${label}: ${options.healthyRate} healthy events/s${withNeighbour ? ` + ${round(neighbourRate, 1)}/s to a black hole` : ""}, ${options.warmupS} s warm-up + ${options.measureS} s measured`,
  );
  let measureStarted = false;
  for (;;) {
    const elapsedS = (performance.now() - begin) / 1000;
    if (elapsedS >= totalS) break;
    if (!measureStarted && performance.now() >= measureFrom) {
      measureStarted = true;
      blackholeAtMeasureStart = blackHole.requests();
    }
    const healthyDue = Math.floor(elapsedS * options.healthyRate);
    while (healthySeq < healthyDue) {
      const seq = healthySeq++;
      const id = `${label}:h${seq}`;
      track(
        put(healthy[seq % healthy.length] as string, id).then(
          (at) => sent.set(id, at),
          () => undefined,
        ),
      );
    }
    const neighbourDue = Math.floor(elapsedS * neighbourRate);
    while (neighbourSeq < neighbourDue) {
      track(put(neighbour, `${label}:n${neighbourSeq++}`).catch(() => undefined));
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const blackholeAtMeasureEnd = blackHole.requests();
  await Promise.allSettled([...inFlight]);
  const healthyIds = [...sent.keys()];
  const deadline = performance.now() + options.drainTimeoutMs;
  while (performance.now() < deadline && healthyIds.some((id) => !arrived.has(id))) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const measured: number[] = [];
  const onset: number[] = [];
  for (const [id, at] of sent) {
    const arrival = arrived.get(id);
    if (arrival === undefined) continue;
    (at >= measureFrom ? measured : onset).push(Math.max(0, arrival - at));
  }
  return {
    healthy_latency_ms: summarize(measured),
    onset_latency_ms: summarize(onset),
    healthy_events: healthyIds.length,
    healthy_lost: healthyIds.filter((id) => !arrived.has(id)).length,
    neighbour_events: neighbourSeq,
    blackhole_requests: blackholeAtMeasureEnd - blackholeAtMeasureStart,
    blackhole_requests_total: blackHole.requests() - blackholeAtStart,
  };
}

/**
 * Both phases on one local stack, as a deployment sees an incident start, with its own function
 * instances (each local stack loads its own): alone first, so that nothing the neighbour leaves
 * behind (queued jobs, its endpoint's state) can touch it.
 */
async function runBoth(
  options: FairnessBenchOptions,
): Promise<{ alone: FairnessRun; withNeighbour: FairnessRun }> {
  const arrived = new Map<string, number>();
  const receiver = await startBenchReceiver((body) => {
    const match = /"bench_id":"([^"]+)"/.exec(body);
    if (match?.[1] && !arrived.has(match[1])) arrived.set(match[1], performance.now());
  });
  const blackHole = await startBlackHole();
  let stack: LocalStack | undefined;
  let events: EventBridgeClient | undefined;
  let dynamodb: DynamoDBClient | undefined;
  const previous = {
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL,
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED,
  };
  // The functions log every delivery at INFO; thousands of lines would cost the run more than it measures.
  process.env.POWERTOOLS_LOG_LEVEL = "ERROR";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  try {
    stack = await startLocalStack(benchStackSettings(), createStackLogger({ logLevel: "ERROR" }));
    dynamodb = new DynamoDBClient({
      endpoint: stack.endpoints.dynamodb,
      region: "us-east-1",
      credentials: LOCAL_CREDENTIALS,
    });
    events = new EventBridgeClient({
      endpoint: stack.endpoints.events,
      region: "us-east-1",
      credentials: LOCAL_CREDENTIALS,
    });
    const bench: BenchStack = {
      repository: new SubscriptionRepository(DynamoDBDocumentClient.from(dynamodb), stack.tableName),
      events,
      receiver,
      blackHole,
      sent: new Map(),
      arrived,
    };
    const alone = await runPhase(bench, false, options, "alone");
    const withNeighbour = await runPhase(bench, true, options, "neighbour");
    return { alone, withNeighbour };
  } finally {
    events?.destroy();
    dynamodb?.destroy();
    await stack?.stop();
    await blackHole.close();
    await receiver.close();
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

export async function benchFairness(options: FairnessBenchOptions): Promise<FairnessBenchResult> {
  const { alone, withNeighbour } = await runBoth(options);
  const p99With = withNeighbour.healthy_latency_ms.p99;
  const p99Alone = alone.healthy_latency_ms.p99;
  const neighbourRate = (options.healthyRate * options.neighbourShare) / (1 - options.neighbourShare);
  return {
    healthy_p99_ms_with_neighbour: p99With,
    healthy_p99_ms_alone: p99Alone,
    p99_ratio: round(p99With / Math.max(p99Alone, 1), 2),
    blackhole_attempts_per_min: round(withNeighbour.blackhole_requests / (options.measureS / 60), 1),
    healthy_p50_ms_with_neighbour: withNeighbour.healthy_latency_ms.p50,
    healthy_p50_ms_alone: alone.healthy_latency_ms.p50,
    onset_p99_ms_with_neighbour: withNeighbour.onset_latency_ms.p99,
    healthy_lost: alone.healthy_lost + withNeighbour.healthy_lost,
    healthy_events_per_s: options.healthyRate,
    neighbour_events_per_s: round(neighbourRate, 2),
    warmup_s: options.warmupS,
    measure_s: options.measureS,
    runs: { alone, with_neighbour: withNeighbour },
  };
}
