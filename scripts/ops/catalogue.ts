/**
 * `npm run ops -- event-types add|list|remove` and `npm run ops -- unroutable drift` (PRODUCT §11,
 * "Catalogue without a redeploy"): operators add VoIPBIN's new event types at run time, see which
 * unknown types are parked, and redrive them once added.
 */
import {
  EventTypeExistsError,
  EventTypeNotFoundError,
  type EventTypeRepository,
} from "#shared/adapters/dynamodb/event-types.ts";
import { addedEventTypeProblems, EventCatalogue } from "#shared/domain/events/runtime-catalogue.ts";
import { UNROUTABLE_REASONS } from "#shared/domain/events/schemas.ts";
import { CATALOGUE_HIT_TTL_MS, CATALOGUE_MISS_REFRESH_MS } from "#shared/services/event-catalogue.ts";
import { parseCommandLine, UsageError } from "../lib/cli.ts";
import { formatTable } from "../text-table.ts";
import type { ParkedMessage, ParkedQueue } from "./parked-queue.ts";

export const EVENT_TYPES_USAGE = `  event-types   list | add <type> --resource <r> --description <text> | remove <type>
                                                      event types added at run time (merged with the built-in catalogue)`;

export interface EventTypesCommand {
  readonly action: "list" | "add" | "remove";
  readonly type?: string;
  readonly resource?: string;
  readonly description?: string;
  readonly json: boolean;
  readonly aws: boolean;
  readonly stage: string;
  readonly region: string | undefined;
}

/** Parses `event-types …` (argv without the leading "event-types"), listing every problem at once. */
export function parseEventTypesCommand(argv: readonly string[], env: NodeJS.ProcessEnv): EventTypesCommand {
  const { values, positionals } = parseCommandLine({
    args: [...argv],
    allowPositionals: true,
    options: {
      resource: { type: "string" },
      description: { type: "string" },
      json: { type: "boolean" },
      aws: { type: "boolean" },
      stage: { type: "string" },
      region: { type: "string" },
    },
  });
  const problems: string[] = [];
  const [action, type, ...extra] = positionals;
  if (action === undefined) problems.push("an action is required: list, add or remove");
  else if (!["list", "add", "remove"].includes(action))
    problems.push(`unknown action "${action}" (list, add or remove)`);
  if ((action === "add" || action === "remove") && type === undefined)
    problems.push(`${action} needs a type: ${action} <type>`);
  if (action === "list" && type !== undefined) problems.push(`unexpected argument "${type}"`);
  if (extra.length > 0) problems.push(`unexpected argument "${extra[0]}"`);
  if (action === "add") {
    if (values.resource === undefined) problems.push("add needs --resource <resource>");
    if (values.description === undefined) problems.push("add needs --description <text>");
    if (type !== undefined)
      problems.push(
        ...addedEventTypeProblems({ type, resource: values.resource, description: values.description }),
      );
  } else if (values.resource !== undefined || values.description !== undefined) {
    problems.push("--resource and --description apply to add");
  }
  if (values.json === true && action !== "list") problems.push("--json applies to list");
  const aws = values.aws === true;
  if (!aws && (values.stage !== undefined || values.region !== undefined))
    problems.push("--stage and --region apply to --aws (the local stack has one set of names)");
  if (aws && !values.region && !env.AWS_REGION && !env.AWS_DEFAULT_REGION)
    problems.push("--aws needs a region: --region, AWS_REGION or AWS_DEFAULT_REGION");
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return {
    action: action as EventTypesCommand["action"],
    ...(type !== undefined ? { type } : {}),
    ...(values.resource !== undefined ? { resource: values.resource } : {}),
    ...(values.description !== undefined ? { description: values.description.trim() } : {}),
    json: values.json === true,
    aws,
    stage: values.stage ?? "prod",
    region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
  };
}

export async function runEventTypes(
  command: EventTypesCommand,
  repository: EventTypeRepository,
  where: string,
  now: () => Date = () => new Date(),
): Promise<number> {
  if (command.action === "list") {
    const catalogue = new EventCatalogue(await repository.list());
    const rows = catalogue.list();
    if (command.json) {
      for (const row of rows) {
        const added = catalogue.addedType(row.type);
        process.stdout.write(
          `${JSON.stringify({ ...row, ...(added ? { description: added.description, added_at: added.added_at } : {}) })}\n`,
        );
      }
      return 0;
    }
    const added = rows.filter((row) => row.added);
    if (added.length > 0) {
      process.stdout.write(
        `${formatTable([
          ["TYPE", "RESOURCE", "ADDED_AT", "DESCRIPTION"],
          ...added.map((row) => {
            const entry = catalogue.addedType(row.type);
            return [row.type, row.resource, entry?.added_at ?? "-", entry?.description ?? "-"];
          }),
        ])}\n`,
      );
    }
    process.stdout.write(
      `${rows.length - added.length} built-in types and ${added.length} added at run time on ${where} (--json lists them all)\n`,
    );
    return 0;
  }
  const type = command.type as string;
  try {
    if (command.action === "add") {
      await repository.add({
        type,
        resource: command.resource as string,
        description: command.description as string,
        added_at: now().toISOString(),
      });
      process.stdout.write(
        `added ${type} (resource ${command.resource}) on ${where}: routers route it within ${CATALOGUE_MISS_REFRESH_MS / 1000} s, GET /v1/event-types lists it within ${CATALOGUE_HIT_TTL_MS / 1000} s.\n` +
          `Parked events of this type: npm run ops -- unroutable redrive --type ${type}${command.aws ? ` --aws --stage ${command.stage}` : ""}\n`,
      );
      return 0;
    }
    const removed = await repository.remove(type);
    process.stdout.write(
      `removed ${removed.type} (resource ${removed.resource}) on ${where}: new events of this type are parked as unknown within ${CATALOGUE_HIT_TTL_MS / 1000} s\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof EventTypeExistsError || error instanceof EventTypeNotFoundError) {
      process.stderr.write(`ops: ${error.message} on ${where}\n`);
      return 1;
    }
    throw error;
  }
}

export interface DriftRow {
  readonly type: string;
  readonly count: number;
  readonly sources: string[];
  readonly first_seen: string | null;
  readonly last_seen: string | null;
  /** "unknown", or "added" when an operator added it since: redrive it. */
  readonly catalogue: "unknown" | "added" | "built-in";
}

/** Groups the parked `unknown_event_type` events by type, with counts and first/last seen. */
export function driftOf(messages: readonly ParkedMessage[], catalogue: EventCatalogue): DriftRow[] {
  const byType = new Map<string, { count: number; sources: Set<string>; first?: string; last?: string }>();
  for (const message of messages) {
    let body: { reason?: unknown; received_at?: unknown; event?: Record<string, unknown> };
    try {
      body = JSON.parse(message.body);
    } catch {
      continue;
    }
    if (body.reason !== UNROUTABLE_REASONS.unknownEventType) continue;
    const type = typeof body.event?.["detail-type"] === "string" ? body.event["detail-type"] : "(none)";
    const seen =
      typeof body.received_at === "string" ? body.received_at : (message.sentAt?.toISOString() ?? undefined);
    const row = byType.get(type) ?? { count: 0, sources: new Set<string>() };
    row.count++;
    if (typeof body.event?.source === "string") row.sources.add(body.event.source);
    if (seen !== undefined) {
      if (row.first === undefined || seen < row.first) row.first = seen;
      if (row.last === undefined || seen > row.last) row.last = seen;
    }
    byType.set(type, row);
  }
  return [...byType.entries()]
    .map(([type, row]) => ({
      type,
      count: row.count,
      sources: [...row.sources].sort(),
      first_seen: row.first ?? null,
      last_seen: row.last ?? null,
      catalogue: catalogue.addedType(type)
        ? ("added" as const)
        : catalogue.has(type)
          ? ("built-in" as const)
          : ("unknown" as const),
    }))
    .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
}

export async function runDrift(
  queue: ParkedQueue,
  repository: EventTypeRepository,
  options: { readonly limit: number; readonly json: boolean },
  where: string,
): Promise<number> {
  const held: ParkedMessage[] = [];
  try {
    for await (const message of queue.read(options.limit)) held.push(message);
  } finally {
    await queue.release(held);
  }
  const rows = driftOf(held, new EventCatalogue(await repository.list()));
  if (options.json) {
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    return 0;
  }
  if (rows.length > 0) {
    process.stdout.write(
      `${formatTable([
        ["TYPE", "COUNT", "FIRST_SEEN", "LAST_SEEN", "SOURCES", "CATALOGUE"],
        ...rows.map((row) => [
          row.type,
          String(row.count),
          row.first_seen ?? "-",
          row.last_seen ?? "-",
          row.sources.join(",") || "-",
          row.catalogue,
        ]),
      ])}\n`,
    );
  }
  const total = rows.reduce((sum, row) => sum + row.count, 0);
  process.stdout.write(
    `${total} parked event${total === 1 ? "" : "s"} of ${rows.length} unknown type${rows.length === 1 ? "" : "s"} among ${held.length} unroutable messages on ${where}${held.length === options.limit ? ` (stopped at --limit ${options.limit})` : ""}\n` +
      (rows.some((row) => row.catalogue === "unknown")
        ? "Add a type: npm run ops -- event-types add <type> --resource <r> --description <text>; then: npm run ops -- unroutable redrive --type <type>\n"
        : ""),
  );
  return 0;
}
