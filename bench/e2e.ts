import { randomUUID } from "node:crypto";
import os from "node:os";
import { ScanCommand, type ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { newSubscription } from "#shared/domain/subscriptions/subscription.ts";
import { createLocalClients } from "../local/provision.ts";
import type { LocalChildProcess } from "../local/stack.ts";
import {
  createStackLogger,
  type LocalStack,
  type LocalStackObserver,
  ROUTER_ASYNC_QUEUE_NAME,
  ROUTER_QUEUE_NAME,
  startLocalStack,
} from "../local/stack.ts";
import { LOCAL_DEFAULTS } from "../scripts/lib/local-stack.ts";
import { type BenchDriver, startBenchDriver } from "./lib/driver.ts";
import { type Item, indexCopy, itemSize, requestUnits, snapshotOf } from "./lib/dynamo-units.ts";
import { createLambdaMeter, type LambdaMeter } from "./lib/lambda-meter.ts";
import { type CostResult, computeCost, type UsageCounts } from "./lib/pricing.ts";
import {
  childrenCpuMs,
  type ProcessMemory,
  procStatusBytes,
  type StackHost,
  sampleProcesses,
  THIS_PROCESS,
} from "./lib/process-sampler.ts";
import { installSdkMeter } from "./lib/sdk-meter.ts";
import { startStackProcess } from "./lib/stack-process.ts";
import { type LatencySummary, round, summarize } from "./lib/stats.ts";
import { benchStackSettings } from "./lib/util.ts";

export interface E2eBenchOptions {
  /** Offered rate of the latency run, events per second. */
  readonly rate: number;
  readonly fanout: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly customers: number;
  /** Offered rates (events/s) tried in turn for max_deliveries_per_s; empty skips the search. */
  readonly maxRateSteps: readonly number[];
  /**
   * Bisections between the last sustained coarse step and the first that was not (0: none): each
   * halves the interval the maximum lies in (100 events/s apart → 12.5 after 3).
   */
  readonly refineProbes?: number;
  readonly stepS: number;
  /** How long to wait at most for the last deliveries of a phase before counting the rest as lost. */
  readonly drainTimeoutMs: number;
  /** A phase's missing deliveries count as lost once none has arrived for this long. */
  readonly stallMs: number;
  /** Delivery pollers of the local stack (default: the stack's own default). */
  readonly deliveryConcurrency?: number;
  /**
   * Runs the stack in a child process of its own, as `npm start` runs it (bench/lib/stack-process.ts),
   * so that its RSS and CPU are the stack's alone; the AWS requests and invocations are then not
   * counted (the meters patch this process's clients), so the cost figures are not this run's.
   */
  readonly stackInChildProcess?: boolean;
  /** Configured memory of each function in MB (from the CDK template); 512 when unknown. */
  readonly memoryMbByFunction?: Readonly<Record<string, number>>;
  readonly progress: (message: string) => void;
}

export interface PhaseResult {
  offered_events_per_s: number;
  emitted_events_per_s: number;
  events: number;
  expected_deliveries: number;
  delivered_unique: number;
  duplicates: number;
  lost: number;
  deliveries_per_s: number;
  /** From the last event accepted to the last delivery of the phase. */
  tail_ms: number;
  latency_ms: LatencySummary;
  sustained: boolean;
  reason: string;
  /** 1, or 2 when the step was run again to confirm a failure. */
  attempt?: number;
  /** A probe between the last sustained coarse step and the first one that was not. */
  bisection?: boolean;
}

export interface E2eBenchResult {
  latency_ms: { p50: number; p95: number; p99: number } & LatencySummary;
  /** Whether the stack kept up with the fixed offered rate (see PhaseResult.sustained), and why not. */
  fixed_rate_sustained: boolean;
  fixed_rate_reason: string;
  /** Deliveries per second over the fixed-rate run, first event sent to last delivery. */
  fixed_rate_deliveries_per_s: number;
  /** From the last event accepted to the last delivery of the fixed-rate run. */
  fixed_rate_tail_ms: number;
  max_deliveries_per_s: number;
  offered_events_per_s: number;
  fanout: number;
  duration_s: number;
  events: number;
  expected_deliveries: number;
  delivered_unique: number;
  duplicates: number;
  lost: number;
  /** Latencies where the delivery arrived before this process read the PutEvents response (counted as 0). */
  arrived_before_accept: number;
  put_events_ms: LatencySummary;
  delivery_concurrency: number;
  steps: PhaseResult[];
  /** The latency run's samples (ms), for the chart; not written to the JSON. */
  samples_ms: number[];
  usage: UsageCounts & {
    requests_per_delivery: number;
    aws_requests_per_event: number;
    lambda_measured: boolean;
  };
  cost: CostResult;
  memory: {
    rss_mb: number;
    rss_mb_before_stack: number;
    rss_mb_idle_stack: number;
    heap_used_mb: number;
  } & Partial<Omit<ProcessMemory, "rss_mb">>;
  cpu_s_per_1000_deliveries: number;
  /**
   * CPU per delivery of every process of the stack (ms): this one (functions, stand-ins, the local
   * SQS's worker thread) and its children (dynalite), and the split; the load driver's, apart.
   */
  cpu_ms_per_delivery?: number;
  cpu_ms_per_delivery_by_process?: Record<string, number>;
  /** CPU time of this process over the fixed-rate run ÷ its wall time: cores it actually got. */
  process_cpu_cores: number;
  /** 1-minute load average when the fixed-rate run ended (other processes competing for the cores). */
  load_average: number;
  /** Wall time of the invocations during the fixed-rate run (the local invokers' view). */
  invocations: Record<
    string,
    { count: number; ms_p50: number; ms_p99: number; records_per_invocation?: number }
  >;
}

interface Emitted {
  sent: number;
  accepted?: number;
  customer: number;
}

interface Phase {
  tag: string;
  emitted: Map<number, Emitted>;
  arrivals: Map<string, number>;
  duplicates: number;
  lastArrival: number;
  firstSent: number;
  lastAccepted: number;
  failedPuts: number;
}

/** The stack under test: in this process, or in a child process of its own (its `host`). */
type StackUnderTest = Pick<
  LocalStack,
  | "endpoints"
  | "stackKey"
  | "tableName"
  | "deliveriesTableName"
  | "eventBusName"
  | "childProcesses"
  | "workerHeaps"
  | "stop"
> & {
  readonly host: StackHost;
  /** Its process's RSS before the stack started (bytes). */
  readonly rssBeforeStack: number;
  /** Its last output lines, when it runs in a child process (this process's are captured). */
  readonly tail?: () => string[];
};

/** The local stack under test, its subscriptions and the load driver. */
interface E2eEnvironment {
  readonly stack: StackUnderTest;
  readonly local: ReturnType<typeof createLocalClients>;
  readonly driver: BenchDriver;
  /** Customer ids; customer `c` has `fanout` subscriptions at `/c<c>/s<s>` of the receiver. */
  readonly customers: readonly string[];
  close(): Promise<void>;
}

/** Runs one phase: emits `rate` events/s for `seconds` under `tag`, then waits for its deliveries. */
type RunPhase = (tag: string, rate: number, seconds: number) => Promise<Phase>;

interface Meters {
  readonly sdk: ReturnType<typeof installSdkMeter>;
  readonly lambda: LambdaMeter;
  readonly logs: ReturnType<typeof captureOutput>;
}

/**
 * The whole pipeline on the local stack, in this process: an open-loop emitter puts events on the
 * local EventBridge endpoint at a fixed rate (one entry per PutEvents, as a VoIPBIN service emits),
 * the router fans each out to `fanout` subscriptions of its customer, the delivery function sends
 * them to a local receiver, which records when each (event, subscription) arrived. The stack runs
 * in this process so that one SDK wrapper counts every AWS request of every component and the
 * stack's observer hook times every invocation; the emitter and the receiver run in a child process
 * (bench/lib/driver.ts), so that this process's CPU is the stack's (`stackInChildProcess` runs the
 * stack apart instead, unmetered, for its own RSS). The phases: start the stack → warm up → search
 * the highest sustained rate (when given steps; `npm run bench` searches on a stack of its own,
 * benchE2eSearch) → the fixed-rate latency run, metered → usage and cost.
 */
export async function benchE2e(options: E2eBenchOptions): Promise<E2eBenchResult> {
  const meters: Meters = {
    // Lambda's asynchronous invocation queue is internal to Lambda on AWS (not billed as SQS).
    sdk: installSdkMeter({
      keepDynamoBodies: true,
      ignoredQueueNames: [ROUTER_ASYNC_QUEUE_NAME],
      perEventQueueNames: [ROUTER_QUEUE_NAME],
    }),
    lambda: createLambdaMeter(),
    logs: captureOutput(),
  };
  try {
    return await withEnvironment(
      options,
      "",
      meters.lambda.observer,
      () => {
        meters.logs.active = false;
        return meters.logs.tail();
      },
      async (started, run, deliveryConcurrency) => {
        const rssBefore = started.stack.rssBeforeStack;
        const rssIdle = procStatusBytes(started.stack.host.pid, "VmRSS") || process.memoryUsage().rss;
        await warmUp(run, options);
        const search = await searchMaxThroughput(run, options);
        const fixed = await measureFixedRate(run, meters, options, started);
        const usage = await countUsage(started, meters, fixed, options);
        return e2eResult(options, { deliveryConcurrency, rssBefore, rssIdle, search, fixed, usage, meters });
      },
    );
  } finally {
    meters.logs.restore();
    meters.sdk.uninstall();
  }
}

/**
 * Starts the load driver and a stack with the subscriptions, runs `work` with a phase runner on them,
 * and closes both; on a failure, shows the stack's last output (`outputTail` when the stack runs in
 * this process, whose output is captured).
 */
async function withEnvironment<T>(
  options: E2eBenchOptions,
  purpose: string,
  observer: LocalStackObserver,
  outputTail: () => string[],
  work: (env: E2eEnvironment, run: RunPhase, deliveryConcurrency: number) => Promise<T>,
): Promise<T> {
  const phases = new Map<string, Phase>();
  const driver = await startBenchDriver(recordArrival(phases));
  let env: E2eEnvironment | undefined;
  try {
    const deliveryConcurrency = options.deliveryConcurrency ?? LOCAL_DEFAULTS.DELIVERY_CONCURRENCY;
    options.progress(
      `e2e: starting a local stack${purpose} (in memory, ${deliveryConcurrency} delivery pollers${options.stackInChildProcess ? ", in a process of its own as `npm start` runs it" : ""})`,
    );
    env = await startEnvironment(options, deliveryConcurrency, driver, observer);
    return await work(env, phaseRunner(env, phases, options), deliveryConcurrency);
  } catch (error) {
    const tail = env?.stack.tail?.() ?? outputTail();
    if (tail.length > 0) options.progress(`e2e failed; the stack's last output:\n${tail.join("")}`);
    throw error;
  } finally {
    await env?.close();
    await driver.close();
  }
}

export interface E2eSearchResult {
  max_deliveries_per_s: number;
  steps: PhaseResult[];
  delivery_concurrency: number;
}

/**
 * The throughput search alone, on a stack of its own run as `npm start` runs it (a child process:
 * bench/lib/stack-process.ts), after its warm-up: the highest rate the stack sustains, without the
 * bench's meters in the stack's process, and without leaving the search's records in the table the
 * fixed-rate run then writes to (dynalite slows down as its in-memory table grows).
 */
export function benchE2eSearch(options: E2eBenchOptions): Promise<E2eSearchResult> {
  return withEnvironment(
    { ...options, stackInChildProcess: true },
    " for the throughput search",
    {},
    () => [],
    async (_env, run, deliveryConcurrency) => {
      await warmUp(run, options);
      const search = await searchMaxThroughput(run, options);
      return {
        max_deliveries_per_s: search.maxDeliveries,
        steps: search.steps,
        delivery_concurrency: deliveryConcurrency,
      };
    },
  );
}

/** Runs a phase on `env`: emits `rate` events/s for `seconds` under `tag`, then waits for its deliveries. */
function phaseRunner(env: E2eEnvironment, phases: Map<string, Phase>, options: E2eBenchOptions): RunPhase {
  return async (tag, rate, seconds) => {
    const phase = newPhase(tag);
    phases.set(tag, phase);
    await emitPhase(env, phase, rate, seconds);
    await drainPhase(phase, phase.emitted.size * options.fanout, options);
    return phase;
  };
}

/** The driver's arrivals (epoch ms, its clock): the arrival time of each (event, subscription), by phase tag. */
function recordArrival(phases: ReadonlyMap<string, Phase>) {
  return (benchId: string, path: string, now: number) => {
    const [tag = "", seqText = ""] = benchId.split(":");
    const phase = phases.get(tag);
    if (!phase) return;
    const key = `${seqText}|${path}`;
    if (phase.arrivals.has(key)) phase.duplicates++;
    else phase.arrivals.set(key, now);
    phase.lastArrival = Math.max(phase.lastArrival, now);
  };
}

/**
 * A fresh local stack with `customers` × `fanout` subscriptions (all matching the emitted type)
 * pointing at the driver's receiver.
 */
async function startEnvironment(
  options: E2eBenchOptions,
  deliveryConcurrency: number,
  driver: BenchDriver,
  observer: LocalStackObserver,
): Promise<E2eEnvironment> {
  const stack = await startStack(options, deliveryConcurrency, observer);
  const local = createLocalClients({
    dynamodbEndpoint: stack.endpoints.dynamodb,
    sqsEndpoint: stack.endpoints.sqs,
    region: "us-east-1",
    stackKey: stack.stackKey,
  });
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      local.dynamodb.destroy();
      local.sqs.destroy();
      await stack.stop();
    })();
    return closed;
  };
  try {
    const repository = new SubscriptionRepository(
      DynamoDBDocumentClient.from(local.dynamodb),
      stack.tableName,
    );
    const customers: string[] = [];
    for (let c = 0; c < options.customers; c++) {
      const customer = randomUUID();
      customers.push(customer);
      for (let s = 0; s < options.fanout; s++) {
        await repository.create(
          newSubscription({
            customer_id: customer,
            url: `${driver.receiverUrl}/c${c}/s${s}`,
            event_types: ["call_hangup"],
          }),
        );
      }
    }
    return { stack, local, driver, customers, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function startStack(
  options: E2eBenchOptions,
  deliveryConcurrency: number,
  observer: LocalStackObserver,
): Promise<StackUnderTest> {
  if (options.stackInChildProcess) {
    const child = await startStackProcess({ deliveryConcurrency });
    return {
      ...child,
      host: { pid: child.pid, usage: async () => child.usage() },
      rssBeforeStack: child.before.rss,
      tail: child.tail,
    };
  }
  const rssBeforeStack = process.memoryUsage().rss;
  const stack = await startLocalStack(
    benchStackSettings({ deliveryConcurrency }),
    createStackLogger({ logLevel: "WARN" }),
    observer,
  );
  return Object.assign(stack, { host: THIS_PROCESS, rssBeforeStack });
}

function newPhase(tag: string): Phase {
  return {
    tag,
    emitted: new Map(),
    arrivals: new Map(),
    duplicates: 0,
    lastArrival: 0,
    firstSent: 0,
    lastAccepted: 0,
    failedPuts: 0,
  };
}

/**
 * The open-loop emitter, in the driver's process: `rate` events/s for `seconds`, one entry per
 * PutEvents, at most 1,000 in flight. Its timestamps are the driver's (epoch ms), like the arrivals.
 */
async function emitPhase(env: E2eEnvironment, phase: Phase, rate: number, seconds: number): Promise<void> {
  const report = await env.driver.emit({
    tag: phase.tag,
    rate,
    seconds,
    eventsEndpoint: env.stack.endpoints.events,
    eventBusName: env.stack.eventBusName,
    customers: env.customers,
  });
  phase.firstSent = report.firstSent;
  for (const [seq, sent, accepted, customer] of report.events) {
    phase.emitted.set(seq, accepted < 0 ? { sent, customer } : { sent, accepted, customer });
    if (accepted >= 0) phase.lastAccepted = Math.max(phase.lastAccepted, accepted);
  }
  phase.failedPuts = report.failedPuts;
}

/**
 * Waits for a phase's deliveries: until all arrived, or nothing arrived for `stallMs` (the rest is
 * then lost, not late), or `drainTimeoutMs` passed.
 */
async function drainPhase(phase: Phase, expected: number, options: E2eBenchOptions): Promise<void> {
  const started = performance.now();
  let lastCount = -1;
  let lastProgress = started;
  let lastReport = started;
  while (phase.arrivals.size < expected) {
    const now = performance.now();
    if (now - lastReport >= 5000) {
      lastReport = now;
      options.progress(`e2e:   waiting for deliveries: ${phase.arrivals.size}/${expected}`);
    }
    if (phase.arrivals.size !== lastCount) {
      lastCount = phase.arrivals.size;
      lastProgress = now;
    }
    if (now - lastProgress > options.stallMs || now - started > options.drainTimeoutMs) break;
    await sleep(20);
  }
}

/** The receiver paths of customer `customer`'s subscriptions. */
function pathsOf(customer: number, fanout: number): string[] {
  return Array.from({ length: fanout }, (_, s) => `/c${customer}/s${s}`);
}

/** Each delivery of the phase that arrived, with its emitted record. */
function* arrivalsOf(phase: Phase, fanout: number): Generator<{ emitted: Emitted; arrived: number }> {
  for (const [seq, emitted] of phase.emitted) {
    for (const path of pathsOf(emitted.customer, fanout)) {
      const arrived = phase.arrivals.get(`${seq}|${path}`);
      if (arrived !== undefined) yield { emitted, arrived };
    }
  }
}

function summarizePhase(phase: Phase, rate: number, fanout: number): PhaseResult & { samples: number[] } {
  const samples: number[] = [];
  for (const { emitted, arrived } of arrivalsOf(phase, fanout)) {
    samples.push(Math.max(0, arrived - (emitted.accepted ?? emitted.sent)));
  }
  const expected = phase.emitted.size * fanout;
  const delivered = phase.arrivals.size;
  let lastEmitted = phase.firstSent;
  for (const e of phase.emitted.values()) lastEmitted = Math.max(lastEmitted, e.sent);
  const emittedRate = phase.emitted.size / Math.max(0.001, (lastEmitted - phase.firstSent) / 1000 + 1 / rate);
  const tail = phase.lastArrival - phase.lastAccepted;
  const lost = expected - delivered;
  let reason = "kept up: every delivery arrived, the last one within 1 s of the last event";
  let sustained = true;
  if (lost > 0 || phase.failedPuts > 0) {
    sustained = false;
    reason = `${lost} deliveries lost, ${phase.failedPuts} PutEvents failed`;
  } else if (emittedRate < rate * 0.95) {
    sustained = false;
    reason = `the emitter reached only ${round(emittedRate)} of ${rate} events/s`;
  } else if (tail > 1000) {
    sustained = false;
    reason = `backlog: the last delivery came ${round(tail / 1000, 2)} s after the last event`;
  }
  return {
    offered_events_per_s: rate,
    emitted_events_per_s: round(emittedRate),
    events: phase.emitted.size,
    expected_deliveries: expected,
    delivered_unique: delivered,
    duplicates: phase.duplicates,
    lost,
    deliveries_per_s: round(delivered / Math.max(0.001, (phase.lastArrival - phase.firstSent) / 1000)),
    tail_ms: round(tail),
    latency_ms: summarize(samples),
    sustained,
    reason,
    samples,
  };
}

/** Cold sandboxes, connection pools, JIT: a phase whose numbers are thrown away. */
async function warmUp(run: RunPhase, options: E2eBenchOptions): Promise<void> {
  if (options.warmupS <= 0) return;
  options.progress(`e2e: warm-up ${options.warmupS} s at ${options.rate} events/s`);
  await run("warm", options.rate, options.warmupS);
}

/**
 * The highest offered rate sustained with nothing lost: first the coarse `maxRateSteps` up to the
 * first one not sustained, then `refineProbes` bisections between the last sustained step and that
 * one (the coarse steps alone hid the maximum: 600 deliveries/s offered was sustained, 900 was not).
 * In `npm run bench` it runs on a stack of its own (benchE2eSearch); benchE2e runs it before its
 * fixed-rate run when given steps. A coarse step that is not sustained is run once more before the search stops:
 * on a shared machine one stall of another process can fail a short step. A bisection probe is not
 * repeated: noise can only make the maximum found lower, never higher. Every run is reported.
 */
async function searchMaxThroughput(
  run: RunPhase,
  options: E2eBenchOptions,
): Promise<{ steps: PhaseResult[]; maxDeliveries: number }> {
  const steps: PhaseResult[] = [];
  let maxDeliveries = 0;
  let tag = 0;
  await searchSustainedRate(options.maxRateSteps, options.refineProbes ?? 0, async (stepRate, probe) => {
    let step: PhaseResult | undefined;
    const attempts = probe.kind === "step" ? 2 : 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const label =
        probe.kind === "step"
          ? `step ${probe.index + 1}/${options.maxRateSteps.length}${attempt > 1 ? " (again, to confirm)" : ""}`
          : `bisection ${probe.index + 1}/${options.refineProbes ?? 0}`;
      options.progress(
        `e2e: max throughput ${label}: ${stepRate} events/s (${stepRate * options.fanout} deliveries/s) for ${options.stepS} s`,
      );
      const phase = await run(`step${tag++}`, stepRate, options.stepS);
      const { samples: _samples, ...result } = summarizePhase(phase, stepRate, options.fanout);
      step = { ...result, attempt, ...(probe.kind === "bisection" ? { bisection: true } : {}) };
      steps.push(step);
      options.progress(
        `e2e:   ${step.deliveries_per_s} deliveries/s, p99 ${step.latency_ms.p99} ms — ${step.sustained ? "sustained" : `not sustained (${step.reason})`}`,
      );
      if (step.sustained) break;
    }
    if (step?.sustained) maxDeliveries = Math.max(maxDeliveries, step.deliveries_per_s);
    return step?.sustained ?? false;
  });
  return { steps, maxDeliveries };
}

/** Which kind of run of the search a rate is: a coarse step, or a bisection probe between two. */
export type SearchProbe = { readonly kind: "step" | "bisection"; readonly index: number };

/**
 * The search's order, apart from what a run measures: `tryRate` for each coarse step until one is
 * not sustained, then `refineProbes` times the midpoint (whole events/s) of the highest sustained
 * and the lowest unsustained rate. Returns the highest sustained rate tried (0 when none was).
 */
export async function searchSustainedRate(
  steps: readonly number[],
  refineProbes: number,
  tryRate: (rate: number, probe: SearchProbe) => Promise<boolean>,
): Promise<number> {
  let low = 0;
  let high: number | undefined;
  for (const [index, rate] of steps.entries()) {
    if (await tryRate(rate, { kind: "step", index })) low = rate;
    else {
      high = rate;
      break;
    }
  }
  if (high === undefined) return low;
  for (let index = 0; index < refineProbes; index++) {
    const mid = Math.round((low + high) / 2);
    if (mid <= low || mid >= high) break;
    if (await tryRate(mid, { kind: "bisection", index })) low = mid;
    else high = mid;
  }
  return low;
}

interface FixedRateRun {
  readonly phase: Phase;
  readonly summary: PhaseResult & { samples: number[] };
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
  readonly loadAverage: number;
  readonly rssPeak: number;
  readonly heapUsed: number;
  readonly processMemory: ProcessMemory;
  readonly childCpuSeconds: number;
  readonly driverCpuSeconds: number;
}

/** The latency run at the fixed offered rate, with every AWS request, invocation and log byte counted. */
async function measureFixedRate(
  run: RunPhase,
  meters: Meters,
  options: E2eBenchOptions,
  env: E2eEnvironment,
): Promise<FixedRateRun> {
  const children: readonly LocalChildProcess[] = env.stack.childProcesses;
  options.progress(
    `e2e: ${options.durationS} s at ${options.rate} events/s × fan-out ${options.fanout} (${options.rate * options.fanout} deliveries/s offered)`,
  );
  meters.sdk.reset();
  meters.lambda.reset();
  meters.logs.reset();
  const host = env.stack.host;
  const rss = sampleRss(host.pid);
  const sampler = sampleProcesses(host, children, () => env.stack.workerHeaps());
  // The phase proper ends when the emitter stops; its drain comes after.
  const phaseEnd = setTimeout(() => sampler.end(), options.durationS * 1000);
  const childCpuBefore = await childrenCpuMs(children);
  const driverCpuBefore = await env.driver.cpuMs();
  const cpuBefore = (await host.usage()).cpu;
  const wallBefore = performance.now();
  meters.sdk.active = true;
  meters.lambda.active = true;
  meters.logs.active = true;
  const phase = await run("fixed", options.rate, options.durationS);
  clearTimeout(phaseEnd);
  await sleep(300); // the last batches' DeleteMessageBatch calls
  meters.sdk.active = false;
  meters.lambda.active = false;
  meters.logs.active = false;
  const hostAfter = await host.usage();
  const cpu = {
    user: hostAfter.cpu.user - cpuBefore.user,
    system: hostAfter.cpu.system - cpuBefore.system,
  };
  const childCpuSeconds = ((await childrenCpuMs(children)) - childCpuBefore) / 1000;
  const driverCpuSeconds = ((await env.driver.cpuMs()) - driverCpuBefore) / 1000;
  const fixed: FixedRateRun = {
    phase,
    summary: summarizePhase(phase, options.rate, options.fanout),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    wallSeconds: (performance.now() - wallBefore) / 1000,
    loadAverage: os.loadavg()[0] ?? 0,
    rssPeak: rss.stop(),
    heapUsed: hostAfter.memory.heapUsed,
    processMemory: await sampler.stop(),
    childCpuSeconds,
    driverCpuSeconds,
  };
  options.progress(
    `e2e: ${fixed.summary.delivered_unique}/${fixed.summary.expected_deliveries} delivered, p50 ${fixed.summary.latency_ms.p50} ms, p99 ${fixed.summary.latency_ms.p99} ms`,
  );
  return fixed;
}

/** What the fixed-rate run used: the counted requests, units from the table as it stands, invocations × memory. */
async function countUsage(
  env: E2eEnvironment,
  meters: Meters,
  fixed: FixedRateRun,
  options: E2eBenchOptions,
): Promise<UsageCounts> {
  const deliveries = fixed.summary.delivered_unique;
  // Both tables: the delivery records are in the deliveries one (docs/data-model.md).
  const items = [
    ...(await scanAll(env.local.dynamodb, env.stack.tableName)),
    ...(await scanAll(env.local.dynamodb, env.stack.deliveriesTableName)),
  ];
  const lambda: UsageCounts["lambda"] = {};
  for (const [name, usage] of meters.lambda.functions) {
    const memoryMb = options.memoryMbByFunction?.[name] ?? 512;
    lambda[name] = {
      invocations: usage.invocations,
      gb_seconds: (usage.billed_ms / 1000) * (memoryMb / 1024),
    };
  }
  return {
    deliveries,
    // The stack's requests, counted by the SDK meter in this process, and the driver's PutEvents:
    // the VoIPBIN services' calls (one entry each), which the bus bills per entry.
    aws_requests: { ...meters.sdk.snapshot(), "eventbridge.PutEvents": fixed.phase.emitted.size },
    eventbridge_events: fixed.phase.emitted.size,
    lambda,
    dynamodb: requestUnits(meters.sdk.parsedDynamoRequests(), snapshotOf(items)),
    log_bytes: meters.logs.bytes,
    storage_bytes_per_delivery: storagePerDelivery(items),
    retention_days: 30,
  };
}

function e2eResult(
  options: E2eBenchOptions,
  run: {
    deliveryConcurrency: number;
    rssBefore: number;
    rssIdle: number;
    search: { steps: PhaseResult[]; maxDeliveries: number };
    fixed: FixedRateRun;
    usage: UsageCounts;
    meters: Meters;
  },
): E2eBenchResult {
  const { fixed, usage, meters } = run;
  const { samples, latency_ms, ...summary } = fixed.summary;
  const invocations: E2eBenchResult["invocations"] = {};
  for (const [name, fn] of meters.lambda.functions) {
    const stats = summarize(fn.durations_ms);
    invocations[name] = {
      count: fn.invocations,
      ms_p50: stats.p50,
      ms_p99: stats.p99,
      ...(name === "delivery"
        ? { records_per_invocation: round(fixed.phase.arrivals.size / Math.max(1, fn.invocations), 2) }
        : {}),
    };
  }
  let early = 0;
  for (const { emitted, arrived } of arrivalsOf(fixed.phase, options.fanout)) {
    if (emitted.accepted !== undefined && arrived < emitted.accepted) early++;
  }
  const putMs = [...fixed.phase.emitted.values()]
    .filter((e) => e.accepted !== undefined)
    .map((e) => (e.accepted ?? 0) - e.sent);
  const totalRequests = Object.values(usage.aws_requests).reduce((t, n) => t + n, 0);
  return {
    latency_ms,
    fixed_rate_sustained: summary.sustained,
    fixed_rate_reason: summary.reason,
    fixed_rate_deliveries_per_s: summary.deliveries_per_s,
    fixed_rate_tail_ms: summary.tail_ms,
    max_deliveries_per_s: run.search.maxDeliveries,
    offered_events_per_s: options.rate,
    fanout: options.fanout,
    duration_s: options.durationS,
    events: summary.events,
    expected_deliveries: summary.expected_deliveries,
    delivered_unique: summary.delivered_unique,
    duplicates: summary.duplicates,
    lost: summary.lost,
    arrived_before_accept: early,
    put_events_ms: summarize(putMs),
    delivery_concurrency: run.deliveryConcurrency,
    steps: run.search.steps,
    samples_ms: samples,
    usage: {
      ...usage,
      requests_per_delivery: round(totalRequests / Math.max(1, usage.deliveries), 3),
      aws_requests_per_event: round(totalRequests / Math.max(1, summary.events), 3),
      lambda_measured: meters.lambda.functions.size > 0,
    },
    cost: computeCost(usage),
    memory: {
      ...fixed.processMemory,
      rss_mb: round(fixed.rssPeak / 1024 ** 2),
      rss_mb_before_stack: round(run.rssBefore / 1024 ** 2),
      rss_mb_idle_stack: round(run.rssIdle / 1024 ** 2),
      heap_used_mb: round(fixed.heapUsed / 1024 ** 2),
    },
    process_cpu_cores: round(fixed.cpuSeconds / Math.max(0.001, fixed.wallSeconds), 2),
    load_average: round(fixed.loadAverage, 2),
    invocations,
    cpu_s_per_1000_deliveries: round((fixed.cpuSeconds / Math.max(1, summary.delivered_unique)) * 1000, 3),
    cpu_ms_per_delivery: round(
      ((fixed.cpuSeconds + fixed.childCpuSeconds) * 1000) / Math.max(1, summary.delivered_unique),
      3,
    ),
    cpu_ms_per_delivery_by_process: {
      stack: round((fixed.cpuSeconds * 1000) / Math.max(1, summary.delivered_unique), 3),
      dynalite: round((fixed.childCpuSeconds * 1000) / Math.max(1, summary.delivered_unique), 3),
      // Not the stack's: the emitter and the receiver (the VoIPBIN services and the customers).
      bench_driver: round((fixed.driverCpuSeconds * 1000) / Math.max(1, summary.delivered_unique), 3),
    },
  };
}

async function scanAll(
  client: ReturnType<typeof createLocalClients>["dynamodb"],
  table: string,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: ScanCommandOutput["LastEvaluatedKey"];
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as unknown as Item[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Mean bytes a delivery record occupies: the item, plus its GSI1 copy, each with 100 bytes of overhead. */
export function storagePerDelivery(items: readonly Item[]): number {
  return deliveryStorage(items).bytes;
}

/**
 * Bytes kept per delivery for its retention: its head (`entity` delivery, whatever its layout's
 * keys), its attempt items (`DELIVERY#<id>`) and its share of the event's stored payload
 * (`EVENT#<id>`, one per event and customer, shared by the event's deliveries), each with DynamoDB's
 * 100 bytes of per-item overhead, in the table and in GSI1 for the items it holds; `tableBytes`
 * without the index copies (what point-in-time recovery bills: the table's data and its local
 * secondary indexes, not its global ones: DynamoDB Developer Guide, "Enable point-in-time recovery in
 * DynamoDB", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html).
 */
export function deliveryStorage(items: readonly Item[]): { bytes: number; tableBytes: number } {
  const deliveries = items.filter((item) => item.entity?.S === "delivery").length;
  if (deliveries === 0) return { bytes: 0, tableBytes: 0 };
  let table = 0;
  let index = 0;
  for (const item of items) {
    const pk = item.PK?.S?.toString() ?? "";
    const kept = item.entity?.S === "delivery" || pk.startsWith("DELIVERY#") || pk.startsWith("EVENT#");
    if (!kept) continue;
    table += itemSize(item) + 100;
    const copy = indexCopy(item);
    if (copy !== undefined) index += itemSize(copy) + 100;
  }
  return { bytes: Math.round((table + index) / deliveries), tableBytes: Math.round(table / deliveries) };
}

/** Peak resident set size of process `pid`, sampled every 100 ms (VmRSS from /proc when there is one). */
function sampleRss(pid: number): { stop(): number } {
  const read = () => procStatusBytes(pid, "VmRSS") || (pid === process.pid ? process.memoryUsage().rss : 0);
  let peak = read();
  const timer = setInterval(() => {
    peak = Math.max(peak, read());
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, read());
    },
  };
}

/**
 * The functions log to stdout/stderr as on Lambda (JSON lines, at the deployment's default level).
 * While the stack runs, that output is swallowed (it would bury the progress lines); its volume is
 * counted while `active` (CloudWatch Logs ingestion), and the last lines are kept for errors.
 */
export function captureOutput() {
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const recent: string[] = [];
  const state = {
    active: false,
    bytes: 0,
    /** Bytes by the `service` field of each JSON line (Powertools logs and EMF blobs carry it). */
    byService: {} as Record<string, number>,
    reset() {
      state.bytes = 0;
      state.byService = {};
    },
    tail: () => [...recent],
    restore() {
      process.stdout.write = stdoutWrite;
      process.stderr.write = stderrWrite;
    },
  };
  const swallow = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    if (text.startsWith("[bench]")) return stderrWrite.call(process.stderr, chunk, ...(rest as []));
    if (state.active) {
      state.bytes += Buffer.byteLength(text);
      for (const line of text.split("\n")) {
        if (line === "") continue;
        const service = /"service":"([^"]+)"/.exec(line)?.[1] ?? "other";
        // Each line is one CloudWatch Logs event: its bytes and its newline.
        state.byService[service] = (state.byService[service] ?? 0) + Buffer.byteLength(line) + 1;
      }
    }
    recent.push(text);
    if (recent.length > 40) recent.shift();
    const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = swallow;
  process.stderr.write = swallow;
  return state;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
