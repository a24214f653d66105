import os from "node:os";
import path from "node:path";
import { styleText } from "node:util";
import { ConfigError } from "#shared/domain/errors.ts";
import { LOCAL_DEFAULTS } from "../scripts/lib/local-stack.ts";
import { installReadableLogs } from "./log-format.ts";
import { LOCAL_SAMPLE_CUSTOMER_ID } from "./samples.ts";
import {
  type LocalStackSettings,
  loadLocalSettings,
  READY_LINE,
  REPO_ROOT,
  USAGE,
  UsageError,
} from "./settings.ts";
import { createStackLogger, type LocalStack, LocalStackError, startLocalStack } from "./stack.ts";

/**
 * `npm start`: the local stack in the foreground. Prints what runs where once everything is up;
 * Ctrl-C (SIGINT) or SIGTERM stops taking work, drains what is in flight and exits 0 (so does npm:
 * the start script `exec`s node, so npm's forwarded signal reaches the stack, not a shell). A second
 * signal, a second or more after the first, exits at once with 128 + the signal's number (130, 143).
 */

/** Signals this close to the first are the same key press delivered twice (group + npm's forwarding). */
const SAME_SIGNAL_WINDOW_MS = 1_000;

const paint = (style: Parameters<typeof styleText>[0], text: string) =>
  process.stdout.isTTY && !process.env.NO_COLOR ? styleText(style, text) : text;

async function main(): Promise<number> {
  let settings: LocalStackSettings | "help";
  try {
    settings = loadLocalSettings(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  if (settings === "help") {
    console.log(USAGE);
    return 0;
  }

  installReadableLogs();
  const logger = createStackLogger();
  const startedAt = Date.now();
  // The handlers come first: a signal while the stack starts (a supervisor giving up, Ctrl-C) stops
  // it as soon as it is up, instead of killing the process with its children and ports half set up.
  let stack: LocalStack | undefined;
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  let resolveExit: (code: number) => void = () => {};
  const exit = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  const stop = (running: LocalStack, signal: NodeJS.Signals) => {
    console.log(`\n${signal}: stopping — no new requests or events; finishing the work in flight…`);
    const began = Date.now();
    running.stop().then(
      () => {
        console.log(`Stopped cleanly in ${Date.now() - began} ms.`);
        resolveExit(0);
      },
      (error: unknown) => {
        console.error("Error while stopping:", error);
        resolveExit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (first !== undefined) {
      // Ctrl-C in a terminal signals the whole process group, and npm forwards the SIGINT it got
      // as well: the stack receives one key press twice within milliseconds. Only a signal that
      // comes later is a user's second Ctrl-C.
      if (Date.now() - first.at < SAME_SIGNAL_WINDOW_MS) return;
      console.error(`${signal} again: exiting without waiting`);
      resolveExit(128 + (os.constants.signals[signal] ?? 0));
      return;
    }
    first = { signal, at: Date.now() };
    if (stack !== undefined) stop(stack, signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    stack = await startLocalStack(settings, logger);
  } catch (error) {
    if (error instanceof LocalStackError || error instanceof ConfigError) {
      console.error(`The local stack did not start: ${error.message}`);
      return 1;
    }
    throw error;
  }
  console.log(banner(stack, Date.now() - startedAt));
  if (first !== undefined) stop(stack, first.signal);
  return exit;
}

function banner(stack: LocalStack, startupMs: number): string {
  const { endpoints, settings } = stack;
  const dataDir = path.relative(REPO_ROOT, settings.dataDir) || ".";
  const persistence = settings.inMemory ? "in memory (--in-memory)" : `persisted in ${dataDir}/`;
  const attempts = settings.retrySchedule.length + 1;
  const customer = LOCAL_SAMPLE_CUSTOMER_ID;
  // The variables a CLI in another terminal needs for the ports this stack really listens on (a port
  // of 0 is the one the kernel chose): only those that differ from the CLIs' defaults.
  const listening = {
    API_PORT: Number(new URL(endpoints.api).port),
    EVENTS_PORT: Number(new URL(endpoints.events).port),
    DYNAMODB_PORT: Number(new URL(endpoints.dynamodb).port),
    SQS_PORT: Number(new URL(endpoints.sqs).port),
  };
  const envFor = (...names: (keyof typeof listening)[]) =>
    names
      .filter((name) => listening[name] !== LOCAL_DEFAULTS[name])
      .map((name) => `${name}=${listening[name]} `)
      .join("");
  const dynamoEnv =
    listening.DYNAMODB_PORT === LOCAL_DEFAULTS.DYNAMODB_PORT
      ? ""
      : `DYNAMODB_ENDPOINT=${endpoints.dynamodb} `;
  // A short event for the AWS CLI example; `npm run emit` sends the full samples.
  const cliEntry = JSON.stringify([
    {
      EventBusName: stack.eventBusName,
      Source: "voipbin.call-manager",
      DetailType: "call_hangup",
      Detail: JSON.stringify({
        customer_id: customer,
        data: { id: "6e8e2d3a-5b1f-4c8e-9d0a-1f2e3d4c5b6a", customer_id: customer, status: "hangup" },
      }),
    },
  ]);
  const row = (name: string, url: string, what: string) =>
    `  ${name.padEnd(22)}${paint("cyan", url.padEnd(31))}${what}`;

  return [
    "",
    `${paint("bold", READY_LINE)} (${(startupMs / 1000).toFixed(1)} s) — one process, no Docker, no AWS account`,
    "",
    row(
      "Subscriptions API",
      endpoints.api,
      "API Gateway HTTP API + authorizer → api function (GET /openapi.json)",
    ),
    row(
      "EventBridge",
      endpoints.events,
      `PutEvents on bus "${stack.eventBusName}"; rules source voipbin.* → the router's fair queue (grouped by customer) → router`,
    ),
    row(
      "Customer portal",
      `${endpoints.api}/portal/`,
      "sign in with an access key (or npm run keys -- portal-link)",
    ),
    row("DynamoDB (dynalite)", endpoints.dynamodb, `table ${stack.tableName}, ${persistence}`),
    row(
      "SQS (local/sqs)",
      endpoints.sqs,
      `delivery queue → dead-letter queue after ${attempts} attempts; unroutable; the router's fair queue → router-failed; the router's invocation queue (direct async invokes); ${persistence}`,
    ),
    "",
    `  Retries after ${settings.retrySchedule.join(", ")} s (RETRY_SCHEDULE); deliveries to ${stack.functionEnv.ALLOWED_CIDRS} allowed (ALLOWED_CIDRS), http:// too.`,
    `  EventBridge, Lambda, DynamoDB and SQS answer this stack's clients only: sign with access key id ${stack.stackKey}`,
    `  (any secret; the npm run commands below find it themselves). docs/local.md, "The stack key".`,
    "",
    paint("bold", "  Create an access key"),
    `    ${dynamoEnv}npm run keys -- create --customer ${customer}`,
    paint("bold", "  Emit a sample event"),
    `    ${envFor("EVENTS_PORT")}npm run emit -- call_hangup            (npm run emit -- --list for the others)`,
    `    AWS_ACCESS_KEY_ID=${stack.stackKey} AWS_SECRET_ACCESS_KEY=local aws events put-events --region ${settings.region} \\`,
    `      --endpoint-url ${endpoints.events} --entries '${cliEntry.replaceAll("'", "'\\''")}'`,
    paint("bold", "  See it all work"),
    `    ${envFor("API_PORT", "EVENTS_PORT", "DYNAMODB_PORT")}npm run demo          (a scripted tour: key, subscriptions, signed deliveries, retries, dead letters)`,
    paint("bold", "  Parked work (dead letters, unroutable events, the router's failures)"),
    `    ${envFor("SQS_PORT", "EVENTS_PORT", "DYNAMODB_PORT")}npm run ops -- dead-letters list            (npm run ops -- --help)`,
    "",
    "  Ctrl-C stops the stack cleanly. Docs: docs/local.md",
    "",
  ].join("\n");
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
