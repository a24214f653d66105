/**
 * `npm run ops -- split-status`: whether the fallback to the main table (docs/data-model.md,
 * "Splitting the delivery records out") still has anything to read — when the split happened, when
 * the fallback closes by itself, and how many unexpired delivery records of before the split the main
 * table still holds (a Scan of the main table: after the split that is subscriptions and keys, cents).
 */

import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { DeliveryTables } from "#shared/adapters/dynamodb/delivery-tables.ts";
import { parseCommandLine, UsageError } from "../lib/cli.ts";
import { AWS_TARGET_OPTIONS, type AwsTarget, awsTargetOf } from "./aws-target.ts";

export const SPLIT_STATUS_USAGE = `  split-status [--retention-days <n>] [--json]
                                                      the delivery records' table split: when it happened,
                                                      when the main-table fallback closes, and the delivery
                                                      records of before it still in the main table`;

export interface SplitStatusCommand extends AwsTarget {
  readonly retentionDays: number;
  readonly json: boolean;
}

export function parseSplitStatusCommand(argv: readonly string[], env: NodeJS.ProcessEnv): SplitStatusCommand {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    allowPositionals: true,
    options: {
      "retention-days": { type: "string" },
      json: { type: "boolean" },
      ...AWS_TARGET_OPTIONS,
    },
  });
  const problems: string[] = [];
  if (positionals.length > 0) problems.push(`unexpected argument "${positionals[0]}"`);
  const retention = values["retention-days"] ?? env.DELIVERY_RETENTION_DAYS ?? "30";
  if (!/^[1-9][0-9]{0,3}$/.test(retention)) {
    problems.push(`--retention-days "${retention}" is not a number of days (DELIVERY_RETENTION_DAYS)`);
  }
  const target = awsTargetOf(values, env, problems);
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return { retentionDays: Number(retention), json: values.json === true, ...target };
}

export interface SplitStatus {
  readonly split_at: string;
  readonly fallback_closes_at: string;
  readonly fallback_open: boolean;
  /** Unexpired delivery heads, event bodies and shadow deliveries left in the main table. */
  readonly records_in_main_table: number;
  /** Nothing left to read there and the fallback closed: its code can go (docs/data-model.md). */
  readonly safe_to_remove: boolean;
}

export async function splitStatus(
  doc: DynamoDBDocumentClient,
  tables: { readonly main: string; readonly deliveries: string },
  retentionDays: number,
  now: Date = new Date(),
): Promise<SplitStatus> {
  const where = new DeliveryTables(doc, tables.main, tables.deliveries, retentionDays);
  const splitAt = await where.splitAt();
  const closesAt = new Date(await where.fallbackClosesAt());
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tables.main,
        Select: "COUNT",
        FilterExpression:
          "(begins_with(PK, :log) OR begins_with(PK, :event) OR begins_with(PK, :shadow)) AND expires_at > :now",
        ExpressionAttributeValues: {
          ":log": "LOG#",
          ":event": "EVENT#",
          ":shadow": "SHADOW#",
          ":now": Math.floor(now.getTime() / 1000),
        },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  const open = now.getTime() < closesAt.getTime();
  return {
    split_at: splitAt.toISOString(),
    fallback_closes_at: closesAt.toISOString(),
    fallback_open: open,
    records_in_main_table: count,
    safe_to_remove: !open && count === 0,
  };
}

export function formatSplitStatus(status: SplitStatus, description: string): string {
  return [
    `split-status on ${description}:`,
    `  deliveries table created (the split): ${status.split_at}`,
    `  main-table fallback closes:            ${status.fallback_closes_at}${status.fallback_open ? "" : " (closed)"}`,
    `  delivery records of before the split still in the main table (unexpired): ${status.records_in_main_table}`,
    status.safe_to_remove
      ? "  safe to remove the fallback (docs/data-model.md, 'Sunset of the fallback')"
      : "  not yet safe to remove the fallback",
  ].join("\n");
}
