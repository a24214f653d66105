import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { createStackLogger, type LocalStack, startLocalStack } from "../local/stack.ts";
import { LOCAL_HOST, localCredentials } from "../scripts/lib/local-stack.ts";
import { type BenchDriver, startBenchDriver } from "./lib/driver.ts";
import { putEvents } from "./lib/put-events.ts";
import { startBenchReceiver } from "./lib/receiver.ts";
import { type LatencySummary, round, summarize } from "./lib/stats.ts";
import { benchStackSettings } from "./lib/util.ts";

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
 *
 * Then, on the same stack (issue 19): fair routing — a healthy customer's put → routed latency while
 * another customer's 600 events arrive at once, against the same alone (`router_p99_ratio`); and the
 * onset at its worst — the healthy customers' end-to-end p99 while a neighbour's 60 deliveries to a
 * black hole nobody has seen yet arrive at once (`burst_onset_p99_ms`).
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
  /**
   * Fair routing: another customer's burst (events at once) against a healthy customer's events put
   * at `routerHealthyRate` per second for `routerPhaseS` seconds, alone and with the burst.
   * @default 600 events, 20/s, 8 s
   */
  readonly routerBurstEvents?: number;
  readonly routerHealthyRate?: number;
  readonly routerPhaseS?: number;
  /**
   * Rounds the router phases alternate in (alone, burst, alone, …), each `routerPhaseS / rounds`
   * seconds (at least 3), samples pooled per phase. @default 3
   */
  readonly routerRounds?: number;
  /**
   * Onset: a neighbour's deliveries to a new black hole all arriving at once, while the healthy
   * customers keep sending for `burstOnsetS` seconds. @default 60 deliveries, 15 s
   */
  readonly burstOnsetDeliveries?: number;
  readonly burstOnsetS?: number;
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

/** One phase of the fair-routing measurement: put → routed (the router finished the event). */
export interface RouterPhase {
  readonly routed_latency_ms: LatencySummary;
  /** Healthy events counted: put while the burst was being routed (all of them, alone). */
  readonly healthy_events: number;
  readonly healthy_unrouted: number;
  readonly burst_events: number;
  /** From the burst's first put to its last event routed (the slowest round's). */
  readonly burst_routed_in_ms: number | null;
  /**
   * The counted healthy events' put → routed split by the router queue's own times (p99 of each part,
   * ms): PutEvents until the bus rule's target had sent it to the router queue (the EventBridge
   * stand-in and the local SQS's ingress), waiting in the router queue until first received (what
   * the fair queue decides), and the router's batch until it finished the event.
   */
  readonly stages_p99_ms: { readonly to_queue: number; readonly in_queue: number; readonly routing: number };
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
  /**
   * A healthy customer's put-to-routed p99 while another customer's burst is routed ÷ the same alone;
   * the goal is ≤ 1.5 (PRODUCT §4: fair at routing too).
   */
  readonly router_p99_ratio: number;
  readonly router_p99_ms_alone: number;
  readonly router_p99_ms_with_burst: number;
  readonly router_burst_events: number;
  /**
   * The part of router_p99 the fair queue governs: the healthy events' wait in the router queue
   * (sent → first received), p99, alone and during the burst (docs/delivery.md, "Fair routing").
   */
  readonly router_queue_wait_p99_ms_alone: number;
  readonly router_queue_wait_p99_ms_with_burst: number;
  /**
   * The healthy customers' end-to-end p99 while a neighbour's deliveries to a new black hole arrive
   * all at once (the incident's first seconds, before anything learned the endpoint); goal ≤ 3,000 ms.
   */
  readonly burst_onset_p99_ms: number;
  readonly burst_onset_deliveries: number;
  readonly runs: {
    readonly alone: FairnessRun;
    readonly with_neighbour: FairnessRun;
    readonly router_alone: RouterPhase;
    readonly router_with_burst: RouterPhase;
    readonly burst_onset: FairnessRun;
  };
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
  /** When the router finished each bench event (by bench id; epoch ms). */
  readonly routed: Map<string, number>;
  /** When each bench event was sent to the router queue and first received from it (epoch ms). */
  readonly routerQueue: Map<string, { readonly sentAt: number; readonly receivedAt: number }>;
  readonly events: EventBridgeClient;
  /**
   * The fair-routing phases' producers, each customer's in a process of its own (the healthy
   * customer's and the bursting one's are different services, never one event loop), and the bus
   * they put on.
   */
  readonly driver: BenchDriver;
  readonly burstDriver: BenchDriver;
  readonly eventsEndpoint: string;
  readonly receiver: Awaited<ReturnType<typeof startBenchReceiver>>;
  readonly blackHole: Awaited<ReturnType<typeof startBlackHole>>;
  readonly sent: Map<string, number>;
  readonly arrived: Map<string, number>;
}

/**
 * The open loop of a phase: for `seconds`, healthy events at `rate` per second (one per PutEvents,
 * the customers in turn, ids `<label>:h<n>`), and `burst` started once, half a second (or
 * `burstAfterS`) in. Resolves when every put has settled, with each healthy event's put time.
 */
async function paced(
  events: EventBridgeClient,
  options: {
    readonly seconds: number;
    readonly rate: number;
    readonly customers: readonly string[];
    readonly label: string;
    readonly burstAfterS: number;
    readonly burst?: () => Promise<void>;
  },
): Promise<{ sent: Map<string, number>; burstStartedAt: number | undefined }> {
  const sent = new Map<string, number>();
  const puts: Promise<unknown>[] = [];
  let burstStartedAt: number | undefined;
  let seq = 0;
  const begin = performance.now();
  for (;;) {
    const elapsedS = (performance.now() - begin) / 1000;
    if (elapsedS >= options.seconds) break;
    if (options.burst !== undefined && burstStartedAt === undefined && elapsedS >= options.burstAfterS) {
      burstStartedAt = performance.now();
      puts.push(options.burst());
    }
    while (seq < Math.floor(elapsedS * options.rate)) {
      const id = `${options.label}:h${seq}`;
      const customer = options.customers[seq++ % options.customers.length] as string;
      puts.push(
        putEvents(events, customer, [id]).then(
          (at) => sent.set(id, at),
          () => undefined,
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.allSettled(puts);
  return { sent, burstStartedAt };
}

/** `count` events of one customer at once: PutEvents calls of 10 entries, 10 calls at a time. */
async function putBurst(
  events: EventBridgeClient,
  customerId: string,
  ids: readonly string[],
): Promise<void> {
  const calls: string[][] = [];
  for (let i = 0; i < ids.length; i += 10) calls.push(ids.slice(i, i + 10));
  let next = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let call = calls[next++]; call !== undefined; call = calls[next++]) {
        await putEvents(events, customerId, call);
      }
    }),
  );
}

/** Epoch milliseconds with sub-millisecond precision: the clock the load driver's times are in. */
const epochNow = () => performance.timeOrigin + performance.now();

/** One round of a fair-routing phase, as samples (ms), to be pooled with the other rounds'. */
interface RouterRound {
  readonly latency: number[];
  readonly toQueue: number[];
  readonly inQueue: number[];
  readonly routing: number[];
  readonly healthyEvents: number;
  readonly unrouted: number;
  readonly burstRoutedInMs: number | null;
}

/**
 * Fair routing, one round: one healthy customer puts events at a fixed rate (one per PutEvents call,
 * no subscription: what is measured is routing alone, put → the router finished the event); with a
 * burst, another customer puts `burstEvents` at once after half a second (PutEvents calls of 10
 * entries, 10 calls at a time). The healthy events put while the burst was being routed are the
 * ones compared. Both customers' PutEvents calls come from the load driver's process
 * (bench/lib/driver.ts), as the e2e bench's do: VoIPBIN's services, which put the events, never run
 * on the router's CPU, so their SDK work (signing, serialising 60 calls) must not be counted as the
 * burst's effect on routing (docs/delivery.md, "What the local ratio measures").
 */
async function runRouterRound(
  bench: BenchStack,
  burstEvents: number,
  rate: number,
  phaseS: number,
  drainTimeoutMs: number,
  label: string,
): Promise<RouterRound> {
  const { driver, burstDriver, routed } = bench;
  const target = { eventsEndpoint: bench.eventsEndpoint, eventBusName: "voipbin-events" };
  const burstIds = Array.from({ length: burstEvents }, (_, i) => `${label}:b:${i}`);
  const paced = driver.emit({
    tag: `${label}:h`,
    rate,
    seconds: phaseS,
    customers: [crypto.randomUUID()],
    ...target,
  });
  const burst =
    burstEvents > 0
      ? new Promise((resolve) => setTimeout(resolve, 500)).then(() =>
          burstDriver.burst({
            tag: `${label}:b`,
            count: burstEvents,
            entriesPerPut: 10,
            parallel: 10,
            customer: crypto.randomUUID(),
            ...target,
          }),
        )
      : undefined;
  const [healthyReport, burstReport] = await Promise.all([paced, burst]);
  // A put the bus refused is not an event of the phase (as before: only accepted puts are counted).
  const sent = new Map(
    healthyReport.events
      .filter(([, , accepted]) => accepted >= 0)
      .map(([seq, at]) => [`${label}:h:${seq}`, at]),
  );
  const burstStartedAt = burstReport?.firstSent;
  const deadline = performance.now() + drainTimeoutMs;
  const pending = () => [...sent.keys(), ...burstIds].some((id) => !routed.has(id));
  while (performance.now() < deadline && pending()) await new Promise((resolve) => setTimeout(resolve, 50));
  const burstEnd =
    burstEvents > 0
      ? Math.max(...burstIds.map((id) => routed.get(id) ?? Number.POSITIVE_INFINITY))
      : undefined;
  const during = [...sent].filter(
    ([, at]) =>
      burstStartedAt === undefined || (at >= burstStartedAt && at <= (burstEnd ?? Number.POSITIVE_INFINITY)),
  );
  const part = (of: (at: number, queue: { sentAt: number; receivedAt: number }, done: number) => number) =>
    during.flatMap(([id, at]) => {
      const done = routed.get(id);
      const queue = bench.routerQueue.get(id);
      return done === undefined || queue === undefined ? [] : [Math.max(0, of(at, queue, done))];
    });
  return {
    latency: during.flatMap(([id, at]) => {
      const done = routed.get(id);
      return done === undefined ? [] : [Math.max(0, done - at)];
    }),
    toQueue: part((at, queue) => queue.sentAt - at),
    inQueue: part((_, queue) => queue.receivedAt - queue.sentAt),
    routing: part((_, queue, done) => done - queue.receivedAt),
    healthyEvents: during.length,
    unrouted: [...sent.keys()].filter((id) => !routed.has(id)).length,
    burstRoutedInMs:
      burstStartedAt === undefined || burstEnd === undefined || !Number.isFinite(burstEnd)
        ? null
        : round(burstEnd - burstStartedAt, 0),
  };
}

/** A phase's rounds pooled: one summary over every round's samples. */
function routerPhase(rounds: readonly RouterRound[], burstEvents: number): RouterPhase {
  const all = (pick: (round: RouterRound) => number[]) => rounds.flatMap(pick);
  const routedIn = rounds.map((r) => r.burstRoutedInMs).filter((ms): ms is number => ms !== null);
  return {
    routed_latency_ms: summarize(all((r) => r.latency)),
    healthy_events: rounds.reduce((sum, r) => sum + r.healthyEvents, 0),
    healthy_unrouted: rounds.reduce((sum, r) => sum + r.unrouted, 0),
    burst_events: burstEvents,
    stages_p99_ms: {
      to_queue: summarize(all((r) => r.toQueue)).p99,
      in_queue: summarize(all((r) => r.inQueue)).p99,
      routing: summarize(all((r) => r.routing)).p99,
    },
    // The slowest round's burst: the figure a reader compares with the healthy p99.
    burst_routed_in_ms: burstEvents > 0 && routedIn.length === rounds.length ? Math.max(...routedIn) : null,
  };
}

/**
 * The fair-routing phases, alone and with a burst, in alternating rounds (alone, burst, alone, …):
 * on a shared machine whose load drifts by the minute, two phases run one after the other compare
 * two different machines; interleaved, each burst round has an alone round beside it, and the
 * rounds' samples are pooled per phase (docs/delivery.md, "What the local ratio measures").
 */
async function runRouterPhases(
  bench: BenchStack,
  options: { burstEvents: number; rate: number; phaseS: number; rounds: number; drainTimeoutMs: number },
  progress: (message: string) => void,
): Promise<{ alone: RouterPhase; withBurst: RouterPhase }> {
  const { burstEvents, rate, rounds, drainTimeoutMs } = options;
  const roundS = Math.max(3, options.phaseS / rounds);
  progress(
    `fairness: routing: ${rounds} rounds of ${round(roundS, 1)} s at ${rate} events/s of one customer, alone and with ${burstEvents} of another at once`,
  );
  const alone: RouterRound[] = [];
  const withBurst: RouterRound[] = [];
  for (let n = 0; n < rounds; n++) {
    alone.push(await runRouterRound(bench, 0, rate, roundS, drainTimeoutMs, `router-alone-${n}`));
    withBurst.push(
      await runRouterRound(bench, burstEvents, rate, roundS, drainTimeoutMs, `router-burst-${n}`),
    );
  }
  return { alone: routerPhase(alone, 0), withBurst: routerPhase(withBurst, burstEvents) };
}

/**
 * The onset of a black hole at its worst: a neighbour's `deliveries` events to an endpoint nobody has
 * seen before (a fresh black hole, so no breaker or slow mark knows it) all arrive at once, one second
 * into a phase of healthy traffic; the healthy deliveries put from then on are measured end to end.
 */
async function runBurstOnset(
  bench: BenchStack,
  options: FairnessBenchOptions,
  deliveries: number,
  phaseS: number,
): Promise<FairnessRun> {
  const { repository, events, receiver, arrived } = bench;
  const blackHole = await startBlackHole();
  try {
    const healthy = Array.from({ length: options.healthyCustomers }, () => crypto.randomUUID());
    for (const [c, customer] of healthy.entries()) {
      await repository.create(newSubscription({ customer_id: customer, url: `${receiver.url}/onset/c${c}` }));
    }
    const neighbour = crypto.randomUUID();
    await repository.create(newSubscription({ customer_id: neighbour, url: `${blackHole.url}/onset-hole` }));
    options.progress(
      `fairness: burst onset: ${options.healthyRate} healthy events/s for ${phaseS} s, ${deliveries} deliveries to a new black hole at once after 1 s`,
    );
    const { sent, burstStartedAt: burstAt } = await paced(events, {
      seconds: phaseS,
      rate: options.healthyRate,
      customers: healthy,
      label: "onset",
      burstAfterS: 1,
      burst: () =>
        putBurst(
          events,
          neighbour,
          Array.from({ length: deliveries }, (_, i) => `onset:n${i}`),
        ),
    });
    const deadline = performance.now() + options.drainTimeoutMs;
    while (performance.now() < deadline && [...sent.keys()].some((id) => !arrived.has(id))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const measured: number[] = [];
    const before: number[] = [];
    for (const [id, at] of sent) {
      const arrival = arrived.get(id);
      if (arrival === undefined) continue;
      (burstAt !== undefined && at >= burstAt ? measured : before).push(Math.max(0, arrival - at));
    }
    return {
      healthy_latency_ms: summarize(measured),
      onset_latency_ms: summarize(before),
      healthy_events: sent.size,
      healthy_lost: [...sent.keys()].filter((id) => !arrived.has(id)).length,
      neighbour_events: deliveries,
      blackhole_requests: blackHole.requests(),
      blackhole_requests_total: blackHole.requests(),
    };
  } finally {
    await blackHole.close();
  }
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
  const put = (customerId: string, benchId: string) => putEvents(events, customerId, [benchId]);

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
async function runBoth(options: FairnessBenchOptions): Promise<{
  alone: FairnessRun;
  withNeighbour: FairnessRun;
  routerAlone: RouterPhase;
  routerWithBurst: RouterPhase;
  burstOnset: FairnessRun;
}> {
  const arrived = new Map<string, number>();
  const routed = new Map<string, number>();
  const routerQueue = new Map<string, { sentAt: number; receivedAt: number }>();
  const receiver = await startBenchReceiver((body) => {
    const match = /"bench_id":"([^"]+)"/.exec(body);
    if (match?.[1] && !arrived.has(match[1])) arrived.set(match[1], performance.now());
  });
  const blackHole = await startBlackHole();
  const [driver, burstDriver] = await Promise.all([
    startBenchDriver(() => undefined),
    startBenchDriver(() => undefined),
  ]);
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
    stack = await startLocalStack(benchStackSettings(), createStackLogger({ logLevel: "ERROR" }), {
      onRouted: (routedEvents) => {
        const now = epochNow();
        for (const { json, sentAt, firstReceivedAt } of routedEvents) {
          const match = /"bench_id":"([^"]+)"/.exec(json);
          if (match?.[1] && !routed.has(match[1])) {
            routed.set(match[1], now);
            // The queue's times are epoch ms (the SQS worker's clock), as the driver's are.
            routerQueue.set(match[1], { sentAt, receivedAt: firstReceivedAt });
          }
        }
      },
    });
    dynamodb = new DynamoDBClient({
      endpoint: stack.endpoints.dynamodb,
      region: "us-east-1",
      credentials: localCredentials(stack.endpoints.dynamodb),
    });
    events = new EventBridgeClient({
      endpoint: stack.endpoints.events,
      region: "us-east-1",
      credentials: localCredentials(stack.endpoints.events),
    });
    const bench: BenchStack = {
      repository: new SubscriptionRepository(DynamoDBDocumentClient.from(dynamodb), stack.tableName),
      routed,
      routerQueue,
      events,
      driver,
      burstDriver,
      eventsEndpoint: stack.endpoints.events,
      receiver,
      blackHole,
      sent: new Map(),
      arrived,
    };
    const alone = await runPhase(bench, false, options, "alone");
    const withNeighbour = await runPhase(bench, true, options, "neighbour");
    const burstEvents = options.routerBurstEvents ?? 600;
    const rate = options.routerHealthyRate ?? 20;
    const phaseS = options.routerPhaseS ?? 8;
    const { alone: routerAlone, withBurst: routerWithBurst } = await runRouterPhases(
      bench,
      {
        burstEvents,
        rate,
        phaseS,
        rounds: options.routerRounds ?? 3,
        drainTimeoutMs: options.drainTimeoutMs,
      },
      options.progress,
    );
    const burstOnset = await runBurstOnset(
      bench,
      options,
      options.burstOnsetDeliveries ?? 60,
      options.burstOnsetS ?? 15,
    );
    return { alone, withNeighbour, routerAlone, routerWithBurst, burstOnset };
  } finally {
    events?.destroy();
    dynamodb?.destroy();
    await stack?.stop();
    await Promise.all([driver.close(), burstDriver.close()]);
    await blackHole.close();
    await receiver.close();
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

export async function benchFairness(options: FairnessBenchOptions): Promise<FairnessBenchResult> {
  const { alone, withNeighbour, routerAlone, routerWithBurst, burstOnset } = await runBoth(options);
  const routerAloneP99 = routerAlone.routed_latency_ms.p99;
  const routerBurstP99 = routerWithBurst.routed_latency_ms.p99;
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
    healthy_lost: alone.healthy_lost + withNeighbour.healthy_lost + burstOnset.healthy_lost,
    healthy_events_per_s: options.healthyRate,
    neighbour_events_per_s: round(neighbourRate, 2),
    warmup_s: options.warmupS,
    measure_s: options.measureS,
    router_p99_ratio: round(routerBurstP99 / Math.max(routerAloneP99, 1), 2),
    router_p99_ms_alone: routerAloneP99,
    router_p99_ms_with_burst: routerBurstP99,
    router_burst_events: routerWithBurst.burst_events,
    router_queue_wait_p99_ms_alone: routerAlone.stages_p99_ms.in_queue,
    router_queue_wait_p99_ms_with_burst: routerWithBurst.stages_p99_ms.in_queue,
    burst_onset_p99_ms: burstOnset.healthy_latency_ms.p99,
    burst_onset_deliveries: burstOnset.neighbour_events,
    runs: {
      alone,
      with_neighbour: withNeighbour,
      router_alone: routerAlone,
      router_with_burst: routerWithBurst,
      burst_onset: burstOnset,
    },
  };
}
