/**
 * The cutover's operator commands (PRODUCT §11, docs/cutover.md), run by `npm run ops -- …`:
 *
 *   shadow export [--since <time>] [--until <time>] [--customer <uuid>]
 *       every shadow delivery recorded in the window, as JSON lines on stdout (oldest first)
 *   legacy import <file> [--dry-run] [--concurrency <n>]
 *       a JSON-lines export of VoIPBIN's customers (id, webhook_uri, webhook_method, webhook_secret,
 *       tm_update) applied to the managed legacy subscriptions with the control events' own rules
 *
 * Both talk to DynamoDB only: the local stack's by default, a stage's on AWS with `--aws`.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DeliveryTables } from "#shared/adapters/dynamodb/delivery-tables.ts";
import { ManagedSubscriptionRepository } from "#shared/adapters/dynamodb/managed-subscriptions.ts";
import { ShadowLogRepository } from "#shared/adapters/dynamodb/shadow-log.ts";
import { UUID_PATTERN } from "#shared/domain/ids.ts";
import type { ManagedChange } from "#shared/domain/ports/subscriptions.ts";
import {
  type CustomerControl,
  InvalidCustomerControlError,
  parseCustomerVersion,
} from "#shared/domain/subscriptions/managed.ts";
import { DEFAULT_RESOURCE_NAMES, resourceNamesFor } from "#shared/resources.ts";
import { parseCommandLine, UsageError } from "../lib/cli.ts";
import { LOCAL_DEFAULTS, LOCAL_HOST, localCredentials } from "../lib/local-stack.ts";

export const CUTOVER_USAGE = `  shadow export [--since <time>] [--until <time>] [--customer <uuid>]
                      shadow deliveries (Detail.delivery_mode "shadow") as JSON lines: what would
                      have been sent (method, URL, headers, body SHA-256); default the last 24 hours
  legacy import <file> [--dry-run] [--concurrency <n>]
                      VoIPBIN customers (JSON lines: id, webhook_uri, webhook_method, webhook_secret,
                      tm_update) into managed legacy subscriptions, by the control events' rules`;

const DEFAULT_CONCURRENCY = 16;

interface Common {
  readonly aws: boolean;
  readonly stage: string;
  readonly region: string | undefined;
}

function tableTarget(
  common: Common,
  env: NodeJS.ProcessEnv,
): { doc: DynamoDBDocumentClient; tableName: string; deliveriesTableName: string } {
  const localEndpoint =
    env.DYNAMODB_ENDPOINT || `http://${LOCAL_HOST}:${env.DYNAMODB_PORT || LOCAL_DEFAULTS.DYNAMODB_PORT}`;
  const client = common.aws
    ? new DynamoDBClient({ region: common.region })
    : new DynamoDBClient({
        region: env.AWS_REGION || LOCAL_DEFAULTS.AWS_REGION,
        credentials: localCredentials(localEndpoint),
        maxAttempts: 2,
        endpoint: localEndpoint,
      });
  return {
    doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    tableName: common.aws
      ? resourceNamesFor(common.stage).table
      : env.TABLE_NAME || DEFAULT_RESOURCE_NAMES.table,
    deliveriesTableName: common.aws
      ? resourceNamesFor(common.stage).deliveriesTable
      : env.DELIVERIES_TABLE_NAME || DEFAULT_RESOURCE_NAMES.deliveriesTable,
  };
}

function parseTime(value: string, option: string, problems: string[]): Date | undefined {
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(time)) {
    problems.push(`${option} takes an RFC 3339 time (2026-12-07T18:00:00Z), not "${value}"`);
    return undefined;
  }
  return new Date(time);
}

/** Runs `shadow …` or `legacy …`; answers the exit code (0 done, 1 failed, 2 bad usage). */
export async function runCutoverCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    allowPositionals: true,
    options: {
      since: { type: "string" },
      until: { type: "string" },
      customer: { type: "string" },
      "dry-run": { type: "boolean" },
      concurrency: { type: "string" },
      aws: { type: "boolean" },
      stage: { type: "string" },
      region: { type: "string" },
    },
  });
  const problems: string[] = [];
  const [kind, action, file, ...extra] = positionals;
  const aws = values.aws === true;
  if (aws && env.DYNAMODB_ENDPOINT)
    problems.push("--aws talks to AWS itself: unset DYNAMODB_ENDPOINT, or drop --aws");
  const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (aws && region === undefined)
    problems.push("--aws needs a region: --region, AWS_REGION or AWS_DEFAULT_REGION");
  if (!aws && (values.stage !== undefined || values.region !== undefined))
    problems.push("--stage and --region apply to --aws");
  const common: Common = { aws, stage: values.stage ?? "prod", region };

  if (kind === "shadow") {
    if (action !== "export") problems.push(`shadow takes one action: export (not "${action ?? ""}")`);
    if (file !== undefined || extra.length > 0) problems.push(`unexpected argument "${file ?? extra[0]}"`);
    for (const option of ["dry-run", "concurrency"] as const) {
      if (values[option] !== undefined) problems.push(`--${option} applies to legacy import`);
    }
    const until = values.until === undefined ? new Date() : parseTime(values.until, "--until", problems);
    const since =
      values.since === undefined
        ? new Date((until ?? new Date()).getTime() - 86_400_000)
        : parseTime(values.since, "--since", problems);
    if (values.customer !== undefined && !UUID_PATTERN.test(values.customer))
      problems.push(`--customer takes a customer id (a UUID), not "${values.customer}"`);
    if (since && until && since >= until) problems.push("--since must be before --until");
    if (problems.length > 0) throw new UsageError(problems.join("\n"));
    return shadowExport(common, env, since as Date, until as Date, values.customer?.toLowerCase());
  }
  if (action !== "import") problems.push(`legacy takes one action: import (not "${action ?? ""}")`);
  if (file === undefined) problems.push("legacy import needs the file: legacy import <file>");
  if (extra.length > 0) problems.push(`unexpected argument "${extra[0]}"`);
  for (const option of ["since", "until", "customer"] as const) {
    if (values[option] !== undefined) problems.push(`--${option} applies to shadow export`);
  }
  let concurrency = DEFAULT_CONCURRENCY;
  if (values.concurrency !== undefined) {
    concurrency = /^\d+$/.test(values.concurrency) ? Number(values.concurrency) : Number.NaN;
    if (!(concurrency >= 1 && concurrency <= 256))
      problems.push(`--concurrency takes a whole number from 1 to 256, not "${values.concurrency}"`);
  }
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return legacyImport(common, env, file as string, values["dry-run"] === true, concurrency);
}

async function shadowExport(
  common: Common,
  env: NodeJS.ProcessEnv,
  since: Date,
  until: Date,
  customerId: string | undefined,
): Promise<number> {
  const { doc, tableName, deliveriesTableName } = tableTarget(common, env);
  try {
    const log = new ShadowLogRepository(doc, new DeliveryTables(doc, tableName, deliveriesTableName));
    let count = 0;
    for await (const record of log.list({ since, until, ...(customerId ? { customerId } : {}) })) {
      if (!process.stdout.write(`${JSON.stringify(record)}\n`)) {
        await new Promise((resolve) => process.stdout.once("drain", resolve));
      }
      count++;
    }
    process.stderr.write(
      `shadow export: ${count} shadow deliveries from ${since.toISOString()} to ${until.toISOString()}${customerId ? ` for customer ${customerId}` : ""}\n`,
    );
    return 0;
  } finally {
    doc.destroy();
  }
}

/** The outcome of one import row. */
type RowOutcome = ManagedChange | "invalid" | "failed";

interface ImportSummary {
  rows: number;
  valid: number;
  invalid: number;
  failed: number;
  changes: Record<ManagedChange, number>;
}

/**
 * Reads the file line by line (any size), validates every row with the control events' rules and
 * applies the valid ones, `concurrency` at a time. A bad row is reported with its line number and
 * every problem (never a value: a row carries a secret) and skipped; nothing valid is held back by
 * it. Rows of one customer may come in any order and any number: the tm_update order decides, as for
 * control events, so import and events commute.
 */
async function legacyImport(
  common: Common,
  env: NodeJS.ProcessEnv,
  file: string,
  dryRun: boolean,
  concurrency: number,
): Promise<number> {
  const summary: ImportSummary = {
    rows: 0,
    valid: 0,
    invalid: 0,
    failed: 0,
    changes: { created: 0, updated: 0, removed: 0, unchanged: 0, ignored_older: 0 },
  };
  const { doc, tableName } = tableTarget(common, env);
  const repository = new ManagedSubscriptionRepository(doc, tableName);
  const inFlight = new Set<Promise<void>>();
  const progress = progressLine(dryRun ? "legacy import (dry run)" : "legacy import");
  const tally = (outcome: RowOutcome) => {
    if (outcome === "invalid") summary.invalid++;
    else if (outcome === "failed") summary.failed++;
    else summary.changes[outcome]++;
  };
  try {
    const lines = createInterface({
      input: createReadStream(file, { encoding: "utf8" }),
      crlfDelay: Infinity,
    });
    let lineNumber = 0;
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === "") continue;
      summary.rows++;
      const control = parseRow(line, lineNumber);
      if (control === null) {
        tally("invalid");
        continue;
      }
      summary.valid++;
      if (dryRun) continue;
      const at = lineNumber;
      const work = repository
        .apply(control, new Date())
        .then(tally, (error: unknown) => {
          tally("failed");
          process.stderr.write(`line ${at}: not applied (${describe(error)}); run the import again\n`);
        })
        .finally(() => {
          inFlight.delete(work);
          progress(summary.rows, summary);
        });
      inFlight.add(work);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } catch (error) {
    await Promise.allSettled(inFlight);
    process.stderr.write(`legacy import: ${describe(error)}\n`);
    return 1;
  } finally {
    doc.destroy();
  }
  progress.end();
  process.stdout.write(`${JSON.stringify({ dry_run: dryRun, ...summary })}\n`);
  process.stderr.write(
    dryRun
      ? `legacy import (dry run): ${summary.rows} rows, ${summary.valid} valid (would be applied), ${summary.invalid} invalid; nothing written\n`
      : `legacy import: ${summary.rows} rows: ${summary.changes.created} created, ${summary.changes.updated} updated, ${summary.changes.removed} removed, ${summary.changes.unchanged} unchanged, ${summary.changes.ignored_older} older than what was applied, ${summary.invalid} invalid, ${summary.failed} failed\n`,
  );
  return summary.invalid > 0 || summary.failed > 0 ? 1 : 0;
}

/** One row, or null after reporting its problems on stderr (all of them, never the row itself). */
function parseRow(line: string, lineNumber: number): CustomerControl | null {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    // Not the parser's message: it quotes the text, which may hold a secret.
    process.stderr.write(`line ${lineNumber}: not a JSON object\n`);
    return null;
  }
  try {
    return parseCustomerVersion("customer_updated", row);
  } catch (error) {
    if (!(error instanceof InvalidCustomerControlError)) throw error;
    process.stderr.write(`line ${lineNumber}: ${error.problems.join("; ")}\n`);
    return null;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (/ECONNREFUSED/.test(String(error)) || (error as { code?: string }).code === "ECONNREFUSED")
      return "cannot reach DynamoDB: is the local stack running (npm start)? Use --aws for a deployment";
    if (error.name === "ResourceNotFoundException") return "the table does not exist";
    return `${error.name}: ${error.message.slice(0, 200)}`;
  }
  return String(error);
}

/** Progress on stderr: rewritten in place on a terminal, a line every 1,000 rows otherwise. */
function progressLine(label: string) {
  let last = 0;
  const update = (rows: number, summary: ImportSummary) => {
    const done = Object.values(summary.changes).reduce((a, b) => a + b, 0) + summary.failed;
    if (process.stderr.isTTY) {
      if (Date.now() - last < 100) return;
      last = Date.now();
      process.stderr.write(`\r${label}: ${done} applied of ${rows} read\u001b[K`);
    } else if (done % 1000 === 0 && done > 0) {
      process.stderr.write(`${label}: ${done} applied of ${rows} read\n`);
    }
  };
  update.end = () => {
    if (process.stderr.isTTY && last > 0) process.stderr.write("\r\u001b[K");
  };
  return update;
}
