import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
} from "@aws-sdk/client-eventbridge";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { AccessKeyRepository } from "#shared/adapters/dynamodb/access-keys.ts";
import { DEFAULT_RESOURCE_NAMES } from "#shared/resources.ts";
import { mintAccessKey } from "#shared/services/access-keys.ts";
import { sampleEntry } from "../../local/samples.ts";
import { portVariables, READY_LINE, STACK_OWNED_VARIABLES } from "../../local/settings.ts";
import { LOCAL_DEFAULTS, localCredentials, stackKeyFor } from "../../scripts/lib/local-stack.ts";

const REGION = LOCAL_DEFAULTS.AWS_REGION;

/**
 * The local stack as a user runs it, for end-to-end tests: `npm start` in a child process of its own
 * (its own process group, so that Ctrl-C can be sent to the group as a terminal does), on free ports,
 * talked to only through its public interfaces.
 */

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

export class StackProcessError extends Error {
  override readonly name = "StackProcessError";
}

export interface StackPorts {
  readonly api: number;
  readonly events: number;
  readonly dynamodb: number;
  readonly sqs: number;
}

export interface StartStackOptions {
  /** `npm start -- --in-memory`; otherwise dynalite persists under `dataDir`. */
  readonly inMemory?: boolean;
  readonly dataDir?: string;
  /** Extra environment, e.g. { RETRY_SCHEDULE: "1,1" }. */
  readonly env?: Record<string, string>;
  /** Reuse these ports (a restart); fresh free ones otherwise. */
  readonly ports?: StackPorts;
  /** How long to wait for the ready line. Default 30 s. */
  readonly readyTimeoutMs?: number;
}

export interface StackExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly ms: number;
}

export interface RunningStack {
  /** The npm process's pid (the leader of the stack's process group). */
  readonly pid: number;
  /** The access key id its emulators require (local/stack-key.ts), as its banner prints it. */
  readonly stackKey: string;
  readonly ports: StackPorts;
  readonly endpoints: {
    readonly api: string;
    readonly events: string;
    readonly dynamodb: string;
    readonly sqs: string;
  };
  /** The environment the CLIs need to reach this stack (DYNAMODB_ENDPOINT, EVENTS_PORT, …). */
  readonly cliEnv: Record<string, string>;
  /** Everything the stack printed so far (stdout and stderr, interleaved). */
  output(): string;
  /** Sends SIGINT to the whole process group, as Ctrl-C in a terminal does; resolves with the exit. */
  interrupt(timeoutMs?: number): Promise<StackExit>;
  /**
   * Sends `signal` to the npm process alone, as a supervisor, `timeout` or a Makefile's `kill $!`
   * does (npm forwards it); resolves with npm's exit.
   */
  signalNpm(signal: NodeJS.Signals, timeoutMs?: number): Promise<StackExit>;
  /** Kills whatever is left of the process group. Safe to call at any time, any number of times. */
  kill(): void;
}

/** A port nothing listens on right now (the kernel's choice for port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function freePorts(): Promise<StackPorts> {
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [api = 0, events = 0, dynamodb = 0, sqs = 0] = [...ports];
  return { api, events, dynamodb, sqs };
}

const running = new Set<RunningStack>();

/** Kills every stack this test file started; for afterAll, so a failed test leaves nothing behind. */
export function killAllStacks(): void {
  for (const stack of running) stack.kill();
}

/**
 * The afterAll of a test file that ran one stack: its SDK clients destroyed and its receivers closed
 * first (so no socket keeps the worker alive), then the stack stopped as Ctrl-C does, killed if that
 * fails, and anything else the file started killed.
 */
export async function stopE2eStack(
  stack: RunningStack | undefined,
  {
    clients = [],
    receivers = [],
  }: { clients?: ({ destroy(): void } | undefined)[]; receivers?: { close(): Promise<unknown> }[] } = {},
): Promise<void> {
  for (const client of clients) client?.destroy();
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await stack?.interrupt().catch(() => stack.kill());
  killAllStacks();
}

/** The environment `npm start` gets in these tests: the ports, DATA_DIR, and none of the suite's own. */
export function stackEnvironment(
  ports: StackPorts,
  options: Pick<StartStackOptions, "dataDir" | "env"> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    ...process.env,
    ...portVariables(ports),
    ...(options.dataDir ? { DATA_DIR: options.dataDir } : {}),
    ...options.env,
  } as Record<string, string>;
  // The suite's own environment must not leak into the stack's functions.
  for (const name of [...STACK_OWNED_VARIABLES, "VITEST"]) {
    if (!options.env || !(name in options.env)) delete env[name];
  }
  return env;
}

export async function startStack(options: StartStackOptions = {}): Promise<RunningStack> {
  const ports = options.ports ?? (await freePorts());
  const env = stackEnvironment(ports, options);
  const args = ["start", ...(options.inMemory ? ["--", "--in-memory"] : [])];
  const child = spawn("npm", args, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });

  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );

  const stopWith = async (
    signal: NodeJS.Signals,
    target: "group" | "npm",
    timeoutMs: number,
  ): Promise<StackExit> => {
    const began = Date.now();
    if (target === "group") signalGroup(child, signal);
    else child.kill(signal);
    const timeout = new Promise<"timeout">((resolve) =>
      setTimeout(() => resolve("timeout"), timeoutMs).unref(),
    );
    const result = await Promise.race([exited, timeout]);
    if (result === "timeout") {
      stack.kill();
      throw new StackProcessError(`the stack did not exit within ${timeoutMs} ms of ${signal}:\n${output}`);
    }
    running.delete(stack);
    return { ...result, ms: Date.now() - began };
  };

  const host = "127.0.0.1";
  const stack: RunningStack = {
    pid: child.pid ?? -1,
    get stackKey(): string {
      const key =
        /AWS_ACCESS_KEY_ID=(\S+) /.exec(output)?.[1] ?? stackKeyFor(`http://${host}:${ports.events}`);
      if (key === undefined) throw new StackProcessError(`no stack key in the banner:\n${output}`);
      return key;
    },
    ports,
    endpoints: {
      api: `http://${host}:${ports.api}`,
      events: `http://${host}:${ports.events}`,
      dynamodb: `http://${host}:${ports.dynamodb}`,
      sqs: `http://${host}:${ports.sqs}`,
    },
    cliEnv: {
      DYNAMODB_ENDPOINT: `http://${host}:${ports.dynamodb}`,
      EVENTS_PORT: String(ports.events),
      API_PORT: String(ports.api),
      DYNAMODB_PORT: String(ports.dynamodb),
      SQS_PORT: String(ports.sqs),
    },
    output: () => output,
    interrupt: (timeoutMs = 15_000) => stopWith("SIGINT", "group", timeoutMs),
    signalNpm: (signal, timeoutMs = 15_000) => stopWith(signal, "npm", timeoutMs),
    kill() {
      signalGroup(child, "SIGKILL");
      running.delete(stack);
    },
  };
  running.add(stack);

  const ready = new Promise<void>((resolve) => {
    const check = () => {
      if (output.includes(READY_LINE)) resolve();
      else setTimeout(check, 25);
    };
    check();
  });
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const outcome = await Promise.race([
    ready.then(() => "ready" as const),
    exited.then(() => "exited" as const),
    new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), timeoutMs).unref()),
  ]);
  if (outcome !== "ready") {
    stack.kill();
    throw new StackProcessError(
      outcome === "exited"
        ? `npm start exited before it was ready:\n${output}`
        : `npm start was not ready within ${timeoutMs} ms:\n${output}`,
    );
  }
  return stack;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `npm run <script> -- <args>` against the stack, as an operator would in a second terminal. */
export function runNpmScript(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", script, "--", ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new StackProcessError(`npm run ${script} did not finish within ${timeoutMs} ms:\n${stdout}${stderr}`),
      );
    }, timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// --- Talking to a running stack through its public interfaces ------------------------------------

/** A fresh customer id. */
export const newCustomer = (): string => randomUUID();

/**
 * Mints an access key in the stack's DynamoDB with the domain module the keys CLI uses
 * (shared/services/access-keys.ts), for tests that need a key but do not test the CLI.
 */
export async function mintKey(
  stack: RunningStack,
  customerId: string = newCustomer(),
): Promise<{ key: string; keyId: string; customerId: string }> {
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.endpoints.dynamodb,
      region: REGION,
      credentials: localCredentials(stack.endpoints.dynamodb),
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  try {
    const minted = await mintAccessKey(
      { customerId, name: "e2e" },
      { accessKeys: new AccessKeyRepository(doc, DEFAULT_RESOURCE_NAMES.table) },
    );
    return { key: minted.key, keyId: minted.accessKey.key_id, customerId };
  } finally {
    doc.destroy();
  }
}

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body, or undefined when the body is empty. */
  readonly body: T;
  readonly text: string;
}

/** One HTTP request to the stack's API, as any HTTP client sends it. */
export async function callApi<T = Record<string, unknown>>(
  stack: RunningStack,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(`${stack.endpoints.api}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

/** An EventBridge client of the stack's bus, as a VoIPBIN service configures one. */
export function eventBridgeClient(stack: RunningStack): EventBridgeClient {
  return new EventBridgeClient({
    endpoint: stack.endpoints.events,
    region: REGION,
    credentials: localCredentials(stack.endpoints.events),
    maxAttempts: 1,
  });
}

/**
 * Puts one sample `call_hangup` of the customer per data id (its `data.id`) on the stack's bus, in
 * one PutEvents, and answers what the bus answered.
 */
export async function putCallHangups(
  stack: RunningStack,
  customerId: string,
  dataIds: readonly string[],
): Promise<PutEventsCommandOutput> {
  const bus = eventBridgeClient(stack);
  try {
    const entry = sampleEntry("call_hangup", { customerId });
    const detail = JSON.parse(entry.Detail) as { customer_id: string; data: Record<string, unknown> };
    return await bus.send(
      new PutEventsCommand({
        Entries: dataIds.map((dataId) => ({
          ...entry,
          EventBusName: "voipbin-events",
          Detail: JSON.stringify({ ...detail, data: { ...detail.data, id: dataId } }),
        })),
      }),
    );
  } finally {
    bus.destroy();
  }
}

/** Whether `command` is an executable on PATH (the AWS CLI, Go: tests that need one skip without it). */
export function commandOnPath(command: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
