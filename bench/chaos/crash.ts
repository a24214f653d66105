import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SubscriptionRepository } from "#shared/adapters/dynamodb/subscriptions.ts";
import { DEFAULT_RESOURCE_NAMES } from "#shared/resources.ts";
import { portVariables, READY_LINE, REPO_ROOT, STACK_OWNED_VARIABLES } from "../../local/settings.ts";
import { ROUTER_ASYNC_QUEUE_NAME, ROUTER_FAILED_QUEUE_NAME, ROUTER_QUEUE_NAME } from "../../local/stack.ts";
import { LOCAL_HOST, localCredentials } from "../../scripts/lib/local-stack.ts";
import { type PlannedEvent, planWorkload } from "./plan.ts";
import { createRandom } from "./random.ts";
import { ReceiverHub, type ReceiverProfile } from "./receivers.ts";
import { failures, type PairKey, pairKey, reconcile } from "./reconcile.ts";
import { seedPlannedSubscriptions } from "./seed.ts";

/**
 * The crash stage of `npm run chaos`: the local stack as `npm start` runs it (its own process group,
 * persistence in a temporary data directory), events put on its bus with PutEvents, and at seeded
 * random moments a `kill -9` of the whole stack (the node process and dynalite), a restart on the
 * same data directory, and more events. Then the reconciliation: nothing PutEvents accepted may be
 * lost (lost = 0), and a delivery acknowledged twice is explained only when its first 2xx came just
 * before a kill and the second after the restart — an attempt in flight at the kill, whose outcome
 * the dead process could not record (docs/local.md, "Persistence").
 *
 * No SDK faults here (they live in the chaos process, not in the stack's); the receivers misbehave as
 * in the main run, so that retries, dead letters and slow attempts are under way at each kill.
 */

export interface CrashStageOptions {
  readonly seed: number;
  readonly targetDeliveries: number;
  readonly customers: number;
  /** kill -9 of the whole stack, each followed by a restart. */
  readonly kills: number;
  readonly retrySchedule: readonly number[];
  readonly retryJitter: number;
  readonly deliveryTimeoutMs: number;
  readonly visibilityTimeoutSeconds: number;
  /** Emission pauses while more expected deliveries than this are outstanding. */
  readonly maxBacklog: number;
  readonly settleTimeoutMs: number;
  readonly log: (line: string) => void;
  /** Let the stack's warnings through (to this process's output). */
  readonly verbose?: boolean;
}

export interface CrashKill {
  /** Seconds after the stage started. */
  readonly at_s: number;
  readonly events_emitted: number;
  /** Expected deliveries of the events emitted so far not acknowledged yet (in flight or waiting). */
  readonly outstanding: number;
  /** From SIGKILL until no process of the stack was left (a 2xx may still be written meanwhile). */
  readonly dead_after_s: number;
  /** From the kill to the restarted stack's ready line. */
  readonly restart_s: number;
}

export interface CrashSummary {
  kills: number;
  kill_moments: CrashKill[];
  events: number;
  /** Entries PutEvents answered with InternalFailure (not queued) and that were put again. */
  put_events_retried_entries: number;
  expected: number;
  delivered_unique: number;
  dead_lettered: number;
  lost: number;
  duplicates: number;
  duplicates_explained: number;
  /** Explained: the first 2xx came from the process that was killed, before its outcome was recorded. */
  duplicates_in_flight_at_kill: number;
  /** Explained: both 2xx came right after a restart, from work the dead process had in flight run again. */
  duplicates_rerun_after_restart: number;
  duplicates_unexplained: number;
  /** What an explained duplicate is, with the windows used. */
  duplicates_explanation: string;
  /** Invocation records on the router's on-failure destination (the router has no reason to fail here). */
  router_failed: number;
  /** Messages left on the delivery lanes and the router's invocation queue at the end (0 when settled). */
  left_on_queues: number;
  settled: string;
  duration_s: number;
  passed: boolean;
  failures: string[];
  warnings: string[];
  samples: { lost: readonly string[]; unexplained_duplicates: readonly string[] };
  /** For a few unexplained duplicates: when each 2xx was written (seconds after the stage started). */
  unexplained_duplicate_acks_s: Record<string, number[]>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, LOCAL_HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Ports {
  readonly api: number;
  readonly events: number;
  readonly dynamodb: number;
  readonly sqs: number;
}

/** `npm start` (node --import tsx local/main.ts) in a process group of its own. */
class StackProcess {
  private tail = "";
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString("utf8")).slice(-20_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.once("exit", () => {
      this.exited = true;
    });
  }

  static async start(env: Record<string, string>, verbose: boolean): Promise<StackProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "local/main.ts"], {
      cwd: REPO_ROOT,
      env,
      detached: true,
      stdio: ["ignore", "pipe", verbose ? "inherit" : "pipe"],
    });
    const stack = new StackProcess(child);
    const deadline = Date.now() + 60_000;
    while (!stack.tail.includes(READY_LINE)) {
      if (stack.exited || Date.now() > deadline) {
        stack.signal("SIGKILL");
        throw new Error(`the local stack did not start:\n${stack.tail}`);
      }
      await sleep(25);
    }
    return stack;
  }

  /** kill -9 of the whole group; resolves once no process of it is left running. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && this.groupAlive()) await sleep(50);
  }

  /** Ctrl-C, as a terminal sends it; kill -9 if it does not exit within the time. */
  async interrupt(timeoutMs = 30_000): Promise<void> {
    this.signal("SIGINT");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.exited) await sleep(50);
    await this.kill();
  }

  output(): string {
    return this.tail;
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // the group is gone
    }
  }

  /** Whether a process of the group still runs (zombies waiting to be reaped hold no files or ports). */
  private groupAlive(): boolean {
    const group = this.child.pid;
    if (group === undefined) return false;
    if (!existsSync("/proc/self/stat")) {
      try {
        process.kill(-group, 0);
        return true;
      } catch {
        return false;
      }
    }
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      } catch {
        continue; // gone meanwhile
      }
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after the last ")".
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === group && state !== "Z" && state !== "X") return true;
    }
    return false;
  }
}

export async function runCrashStage(options: CrashStageOptions): Promise<CrashSummary> {
  const t0 = Date.now();
  const log = (line: string) => options.log(`[crash ${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}`);
  const plan = planWorkload({
    targetDeliveries: options.targetDeliveries,
    customers: options.customers,
    seed: options.seed,
    poisonEvents: 0,
  });
  const random = createRandom(options.seed + 7);
  const dataDir = mkdtempSync(path.join(tmpdir(), "voipbin-webhooks-chaos-crash-"));
  const profiles = [...new Set<ReceiverProfile>([...plan.subscriptions.map((s) => s.profile), "healthy"])];
  const hub = await ReceiverHub.start({
    profiles,
    senderTimeoutMs: options.deliveryTimeoutMs,
    seed: options.seed + 1,
  });
  const ports: Ports = {
    api: await freePort(),
    events: await freePort(),
    dynamodb: await freePort(),
    sqs: await freePort(),
  };
  const env = stackEnv(options, ports, dataDir);
  const endpoint = (port: number) => `http://${LOCAL_HOST}:${port}`;
  const region = "us-east-1";
  const sqs = new SQSClient({
    endpoint: endpoint(ports.sqs),
    region,
    credentials: localCredentials(endpoint(ports.sqs)),
  });
  const events = new EventBridgeClient({
    endpoint: endpoint(ports.events),
    region,
    credentials: localCredentials(endpoint(ports.events)),
  });
  const dynamodb = new DynamoDBClient({
    endpoint: endpoint(ports.dynamodb),
    region,
    credentials: localCredentials(endpoint(ports.dynamodb)),
  });
  const dead = new Set<PairKey>();
  const drained = new Set<string>();
  const kills: CrashKill[] = [];
  let stack: StackProcess | undefined;
  let emitted = 0;
  let retriedEntries = 0;

  const queueUrl = async (name: string) =>
    (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;
  const depth = async (name: string) => {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: await queueUrl(name), AttributeNames: ["All"] }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  };
  /** The dead-letter queue, read once (hidden for the rest of the run; a restart does not release it). */
  const drainDlq = async () => {
    const url = await queueUrl(DEFAULT_RESOURCE_NAMES.deliveryDlq);
    for (let i = 0; i < 200; i++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 43_200 }),
      );
      if (Messages.length === 0) return;
      for (const message of Messages) {
        if (message.MessageId === undefined || drained.has(message.MessageId)) continue;
        drained.add(message.MessageId);
        try {
          const job = JSON.parse(message.Body ?? "") as { subscription_id: string; payload: string };
          const data = (JSON.parse(job.payload) as { data?: { chaos_key?: unknown } }).data;
          if (typeof data?.chaos_key === "string") dead.add(pairKey(data.chaos_key, job.subscription_id));
        } catch {
          // not a job of this stage
        }
      }
    }
  };
  const outstanding = () => {
    let n = 0;
    for (const event of plan.events.slice(0, emitted))
      for (const key of plan.pairsByEvent.get(event.key) ?? [])
        if ((hub.received.get(key)?.acks ?? 0) === 0 && !dead.has(key)) n++;
    return n;
  };
  // The deployed visibility timeout is 6 minutes: a job whose invocation failed on our side would
  // come back only then. The stack converges its queues' attributes at every start, so set it again.
  const shortenVisibility = async () => {
    for (const name of [DEFAULT_RESOURCE_NAMES.deliveryQueue, DEFAULT_RESOURCE_NAMES.slowDeliveryQueue]) {
      await sqs.send(
        new SetQueueAttributesCommand({
          QueueUrl: await queueUrl(name),
          Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds) },
        }),
      );
    }
  };

  try {
    log(
      `plan: ${plan.events.length} events, ${plan.subscriptions.length} subscriptions, ${plan.expected.size} expected deliveries; ${options.kills} kill -9 of the stack`,
    );
    stack = await whilePortHeld(() => StackProcess.start(env, options.verbose ?? false));
    await shortenVisibility();
    const repository = new SubscriptionRepository(
      DynamoDBDocumentClient.from(dynamodb),
      DEFAULT_RESOURCE_NAMES.table,
    );
    await seedPlannedSubscriptions(repository, hub, plan.subscriptions);

    const batches = Math.ceil(plan.events.length / 10);
    const killAfter = drawKillBatches(batches, options.kills, () => random.next());
    let lastDrain = 0;
    for (let b = 0; b < batches; b++) {
      const batch = plan.events.slice(b * 10, b * 10 + 10);
      while (outstanding() >= options.maxBacklog) {
        if (Date.now() - lastDrain > 2_000) {
          await drainDlq();
          lastDrain = Date.now();
        }
        await sleep(100);
      }
      retriedEntries += await putAccepted(events, batch);
      emitted += batch.length;
      if (killAfter.has(b)) {
        // Deliveries, retries and router invocations are under way: kill at a random moment of them.
        await sleep(Math.floor(random.next() * 1_500));
        const killedAt = Date.now();
        const pending = outstanding();
        await stack.kill();
        const deadAt = Date.now();
        stack = await whilePortHeld(() => StackProcess.start(env, options.verbose ?? false));
        await shortenVisibility();
        kills.push({
          at_s: (killedAt - t0) / 1000,
          events_emitted: emitted,
          outstanding: pending,
          dead_after_s: (deadAt - killedAt) / 1000,
          restart_s: round((Date.now() - killedAt) / 1000),
        });
        log(
          `kill -9 #${kills.length} after ${emitted} events (${pending} deliveries outstanding); ready again in ${kills.at(-1)?.restart_s} s`,
        );
      }
    }
    log(`all ${plan.events.length} events accepted; settling`);

    const deadline = Date.now() + options.settleTimeoutMs;
    let settled = "timed out";
    for (;;) {
      await drainDlq();
      const left = outstanding();
      const queued =
        (await depth(DEFAULT_RESOURCE_NAMES.deliveryQueue)) +
        (await depth(DEFAULT_RESOURCE_NAMES.slowDeliveryQueue)) +
        (await depth(ROUTER_QUEUE_NAME)) +
        (await depth(ROUTER_ASYNC_QUEUE_NAME));
      if (left === 0 && queued === 0 && Date.now() - hub.lastRequestAt > 1_500) {
        settled = "settled";
        break;
      }
      if (Date.now() > deadline) {
        settled = `timed out with ${left} outstanding, ${queued} queued`;
        break;
      }
      await sleep(1_000);
    }
    const leftOnQueues =
      (await depth(DEFAULT_RESOURCE_NAMES.deliveryQueue)) +
      (await depth(DEFAULT_RESOURCE_NAMES.slowDeliveryQueue)) +
      (await depth(ROUTER_QUEUE_NAME)) +
      (await depth(ROUTER_ASYNC_QUEUE_NAME));
    const routerFailed = await depth(ROUTER_FAILED_QUEUE_NAME);

    // An attempt's outcome is recorded within one batch's time of its 2xx; work released at a restart
    // (jobs and router invocations the dead process had received) runs within seconds of it.
    const window = Math.max(5_000, 2 * options.deliveryTimeoutMs);
    const spans = kills.map((k) => {
      const killedAt = t0 + k.at_s * 1000;
      return { killedAt, deadAt: killedAt + k.dead_after_s * 1000, readyAt: killedAt + k.restart_s * 1000 };
    });
    const explained = new Set<string>();
    let inFlight = 0;
    let rerun = 0;
    for (const received of hub.received.values()) {
      const [first, second] = received.ackedAt;
      if (first === undefined || second === undefined) continue;
      if (spans.some((k) => first <= k.deadAt && k.killedAt - first <= window && second > k.deadAt))
        inFlight++;
      else if (spans.some((k) => first > k.deadAt && first - k.readyAt <= window)) rerun++;
      else continue;
      for (const id of received.webhookIds) explained.add(id);
    }
    const reconciliation = reconcile({
      expected: plan.expected,
      received: hub.received,
      deadLettered: dead,
      faultedAfterHttp: explained,
    });
    const problems = failures(reconciliation).map((problem) => `crash: ${problem}`);
    if (hub.signatureFailures > 0)
      problems.push(`crash: ${hub.signatureFailures} requests failed signature verification`);
    if (kills.length < options.kills)
      problems.push(`crash: ${kills.length} of ${options.kills} kills happened`);
    const warnings: string[] = [];
    if (reconciliation.duplicates_unexplained > 0) {
      warnings.push(
        `crash: ${reconciliation.duplicates_unexplained} duplicates not explained by a kill, e.g. ${reconciliation.samples.unexplained_duplicates.slice(0, 3).join(", ")}`,
      );
    }
    if (routerFailed > 0)
      warnings.push(`crash: ${routerFailed} router invocations on the on-failure destination`);
    log(
      `reconciled: expected ${reconciliation.expected}, delivered ${reconciliation.delivered_unique}, dead-lettered ${reconciliation.dead_lettered}, lost ${reconciliation.lost}, duplicates ${reconciliation.duplicates} (${inFlight} in flight at a kill, ${rerun} run again after a restart)`,
    );
    await stack.interrupt();
    stack = undefined;
    return {
      kills: kills.length,
      kill_moments: kills.map((k) => ({ ...k, at_s: round(k.at_s), dead_after_s: round(k.dead_after_s) })),
      events: plan.events.length,
      put_events_retried_entries: retriedEntries,
      expected: reconciliation.expected,
      delivered_unique: reconciliation.delivered_unique,
      dead_lettered: reconciliation.dead_lettered,
      lost: reconciliation.lost,
      duplicates: reconciliation.duplicates,
      duplicates_explained: reconciliation.duplicates_explained,
      duplicates_in_flight_at_kill: inFlight,
      duplicates_rerun_after_restart: rerun,
      duplicates_unexplained: reconciliation.duplicates_unexplained,
      duplicates_explanation: `work in flight at a kill -9: either an attempt whose 2xx was written at most ${window / 1000} s before the kill and acknowledged again after the restart (the dead process had not recorded the outcome, so its job was due again), or a delivery acknowledged twice within ${window / 1000} s of a restart (likely, from the timing: a router invocation the dead process was running ran again and enqueued the event's jobs beside the released ones, and both copies were sent before either was recorded)`,
      router_failed: routerFailed,
      left_on_queues: leftOnQueues,
      settled,
      duration_s: round((Date.now() - t0) / 1000),
      passed: problems.length === 0,
      failures: problems,
      warnings,
      samples: {
        lost: reconciliation.samples.lost,
        unexplained_duplicates: reconciliation.samples.unexplained_duplicates,
      },
      unexplained_duplicate_acks_s: Object.fromEntries(
        reconciliation.samples.unexplained_duplicates
          .slice(0, 5)
          .map((key) => [key, (hub.received.get(key)?.ackedAt ?? []).map((at) => round((at - t0) / 1000))]),
      ),
    };
  } catch (error) {
    if (stack) log(`the stack's last output:\n${stack.output().slice(-3_000)}`);
    throw error;
  } finally {
    await stack?.kill();
    for (const client of [sqs, events, dynamodb]) client.destroy();
    await hub.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The batches after which the stack is killed: `kills` distinct ones, drawn from the seed over the
 * middle of the emission (never the first tenth, so that the first kill finds work under way).
 */
/**
 * A start of the stack on the stage's ports (its clients' address; after a kill, the killed stack's).
 * Until it binds them another process on the machine may hold one for a moment — the kernel hands a
 * free port out again as an outbound connection's local port, e.g. to tests running beside the chaos
 * run in CI — and the stack refuses to start ("… is already in use"); it is started again on the
 * same ports, up to `attempts` times, `waitMs` apart. Any other failure is thrown at once.
 */
export async function whilePortHeld<T>(
  start: () => Promise<T>,
  { attempts = 20, waitMs = 500 }: { attempts?: number; waitMs?: number } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !String(error).includes("is already in use")) throw error;
      await sleep(waitMs);
    }
  }
}

export function drawKillBatches(batches: number, kills: number, next: () => number): Set<number> {
  const from = Math.max(0, Math.floor(batches * 0.1));
  const span = Math.max(1, batches - from);
  const chosen = new Set<number>();
  for (let i = 0; chosen.size < Math.min(kills, span) && i < 10_000; i++) {
    chosen.add(from + Math.floor(next() * span));
  }
  return chosen;
}

/**
 * Puts one batch; entries answered InternalFailure (not queued, EventBridge's retryable error) are
 * put again until every one has an EventId. Returns how many entries were put again.
 */
async function putAccepted(client: EventBridgeClient, batch: readonly PlannedEvent[]): Promise<number> {
  let pending: PutEventsRequestEntry[] = batch.map((event) => ({
    EventBusName: DEFAULT_RESOURCE_NAMES.eventBus,
    Source: event.source,
    DetailType: event.type,
    Detail: JSON.stringify({ customer_id: event.customerId, data: event.data }),
  }));
  let retried = 0;
  for (let round = 0; pending.length > 0; round++) {
    if (round > 20) throw new Error(`PutEvents kept refusing ${pending.length} entries`);
    const response = await client.send(new PutEventsCommand({ Entries: pending }));
    const entries = response.Entries ?? [];
    const refused = pending.filter((_, i) => entries[i]?.EventId === undefined);
    for (const [i] of pending.entries()) {
      const code = entries[i]?.ErrorCode;
      if (code !== undefined && code !== "InternalFailure") {
        throw new Error(`PutEvents refused a chaos event: ${code} ${entries[i]?.ErrorMessage ?? ""}`);
      }
    }
    retried += refused.length;
    pending = refused;
    if (pending.length > 0) await sleep(200);
  }
  return retried;
}

/** The stack's environment: the main run's time scale, persistence in the stage's directory. */
function stackEnv(options: CrashStageOptions, ports: Ports, dataDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  // The stack sets these itself; what the chaos process has must not leak into its functions.
  for (const name of STACK_OWNED_VARIABLES) delete env[name];
  return {
    ...env,
    ...portVariables(ports),
    DATA_DIR: dataDir,
    RETRY_SCHEDULE: options.retrySchedule.join(","),
    RETRY_JITTER: String(options.retryJitter),
    DELIVERY_TIMEOUT_MS: String(options.deliveryTimeoutMs),
    // Fair delivery at the run's time scale, as in the main run (driver.ts, quietFunctions).
    MAIN_LANE_TIMEOUT_MS: String(options.deliveryTimeoutMs),
    BREAKER_THRESHOLD: "3",
    BREAKER_COOLDOWN_MS: "2000",
    BREAKER_MAX_COOLDOWN_MS: "8000",
    SLOW_LANE_STICKY_MS: "5000",
    POWERTOOLS_LOG_LEVEL: options.verbose ? "WARN" : "ERROR",
    POWERTOOLS_METRICS_DISABLED: "true",
    NO_COLOR: "1",
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
