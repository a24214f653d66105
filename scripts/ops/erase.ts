/**
 * `npm run ops -- erase --customer <id> [--resource <id>] [--dry-run] [--aws …]` (PRODUCT §12): erases
 * a customer's stored payloads, attempts and records — or only those of one resource (an event whose
 * `data.id` or `data.activeflow_id` is the id) — from the table and the parked queues, with progress
 * on stderr and a summary on stdout. The work is shared/services/erasure.ts; docs/security.md says
 * what is stored where.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DeliveryTables } from "#shared/adapters/dynamodb/delivery-tables.ts";
import { ErasureRepository } from "#shared/adapters/dynamodb/erasure.ts";
import { dataOfBody } from "#shared/domain/erasure/erasure.ts";
import {
  type ErasureQueue,
  type ErasureSummary,
  eraseCustomerData,
  type MessageOwner,
} from "#shared/services/erasure.ts";
import { parseCommandLine, UsageError } from "../lib/cli.ts";
import { AWS_TARGET_OPTIONS, awsTargetOf } from "./aws-target.ts";
import { originalEvent, type ParkedKind } from "./parked-kinds.ts";
import type { ParkedQueue } from "./parked-queue.ts";

export const ERASE_USAGE = `  erase --customer <uuid> [--resource <id>] [--dry-run]
                                                      erase a customer's payloads, attempts and records (and
                                                      their parked queue messages); --resource: only the events
                                                      whose data.id or data.activeflow_id is <id>`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface EraseCommand {
  readonly customerId: string;
  readonly resourceId: string | undefined;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly aws: boolean;
  readonly stage: string;
  readonly region: string | undefined;
}

/** Every problem of the command line at once (UsageError), or the command. */
export function parseEraseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): EraseCommand {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    allowPositionals: true,
    options: {
      customer: { type: "string" },
      resource: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      ...AWS_TARGET_OPTIONS,
    },
  });
  const problems: string[] = [];
  if (positionals.length > 0) problems.push(`unexpected argument "${positionals[0]}"`);
  if (values.customer === undefined) problems.push("--customer <uuid> is required: whose data to erase");
  else if (!UUID.test(values.customer)) problems.push(`--customer "${values.customer}" is not a UUID`);
  if (values.resource !== undefined && (values.resource.trim() === "" || values.resource.length > 256))
    problems.push("--resource takes a resource id (1 to 256 characters), e.g. a call id");
  const target = awsTargetOf(values, env, problems);
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return {
    customerId: (values.customer as string).toLowerCase(),
    resourceId: values.resource,
    dryRun: values["dry-run"] === true,
    json: values.json === true,
    ...target,
  };
}

/** A delivery job (dead letters, backstop): its customer and the `data` of the body it carries. */
export const jobOwner: MessageOwner = (body) => {
  try {
    const job = JSON.parse(body) as { customer_id?: unknown; payload?: unknown };
    return {
      customerId: job.customer_id,
      data: typeof job.payload === "string" ? dataOfBody(job.payload) : undefined,
    };
  } catch {
    return null;
  }
};

/** A parked event (unroutable, router failures, EventBridge's DLQ): its `detail`'s customer and data. */
export const eventOwner =
  (kind: ParkedKind): MessageOwner =>
  (body) => {
    const event = originalEvent(kind, body) as { detail?: unknown } | undefined;
    const detail = event?.detail;
    if (typeof detail !== "object" || detail === null) return null;
    const { customer_id: customerId, data } = detail as Record<string, unknown>;
    return { customerId, data };
  };

export interface EraseTarget {
  readonly description: string;
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly deliveriesTableName: string;
  /** The parked queues there are: dead letters and backstop (jobs), unroutable, router failures, ingest DLQ (events). */
  readonly queues: readonly { readonly kind: ParkedKind | "backstop"; readonly queue: ParkedQueue }[];
}

export function erasureQueues(target: EraseTarget): ErasureQueue[] {
  return target.queues.map(({ kind, queue }) => ({
    queue,
    ownerOf: kind === "dead-letters" || kind === "backstop" ? jobOwner : eventOwner(kind),
  }));
}

export async function runErase(command: EraseCommand, target: EraseTarget): Promise<number> {
  const what = command.resourceId
    ? `resource ${command.resourceId} of customer ${command.customerId}`
    : `customer ${command.customerId}`;
  process.stderr.write(
    `erase${command.dryRun ? " (dry run)" : ""}: ${what} on ${target.description}: reading the table…\n`,
  );
  let lastPhase = "";
  let lastWrite = 0;
  const summary = await eraseCustomerData(
    {
      store: new ErasureRepository(
        target.doc,
        new DeliveryTables(target.doc, target.tableName, target.deliveriesTableName),
      ),
      queues: erasureQueues(target),
      onProgress: ({ phase, done, detail }) => {
        const now = Date.now();
        if (phase === lastPhase && now - lastWrite < 1000) return;
        lastPhase = phase;
        lastWrite = now;
        process.stderr.write(`erase: ${phase}: ${done} ${detail}\n`);
      },
    },
    { customerId: command.customerId, resourceId: command.resourceId, dryRun: command.dryRun },
  );
  process.stdout.write(command.json ? `${JSON.stringify(summary)}\n` : summaryText(summary));
  for (const failure of summary.queueFailures) {
    process.stderr.write(`erase: could not read ${failure.queue}: ${failure.error}\n`);
  }
  return summary.queueFailures.length > 0 ? 1 : 0;
}

export function summaryText(summary: ErasureSummary): string {
  const { counts } = summary;
  const verb = summary.dryRun ? "would erase" : "erased";
  const rows: [string, number][] = [
    ["delivery records", counts.deliveries],
    ["attempts", counts.attempts],
    ["event payloads", counts.payloads],
    ["shadow records", counts.shadow],
    ["activeflow destinations", counts.activeflowDestinations],
    ["subscriptions", counts.subscriptions],
    ["access keys and portal links", counts.credentials],
    ["other items (counters, quota windows, managed settings)", counts.other],
    ["parked queue messages", counts.queueMessages],
  ];
  const width = Math.max(...rows.map(([, n]) => String(n).length));
  const who = summary.resourceId
    ? `resource ${summary.resourceId} of customer ${summary.customerId}`
    : `customer ${summary.customerId}`;
  return [
    `${summary.dryRun ? "Dry run: nothing changed. " : ""}For ${who}, ${verb}:`,
    ...rows.map(([label, n]) => `  ${String(n).padStart(width)}  ${label}`),
    `(${summary.scannedItems} table items read, ${summary.messagesRead} parked messages read${
      summary.queueFailures.length > 0 ? `, ${summary.queueFailures.length} queue(s) unreadable` : ""
    })`,
    "",
  ].join("\n");
}
