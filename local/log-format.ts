import { styleText } from "node:util";
import { LOG_MAX_DEPTH } from "#shared/adapters/observability.ts";
import { depthBoundedReplacer } from "#shared/domain/json.ts";
import type { LoggedError } from "#shared/domain/ports/logger.ts";

/**
 * Structured logs stay JSON wherever a program reads them (a pipe, a file, CI), and become one
 * readable line each on a terminal: `09:17:41.250 INFO  router  event routed  event_id=… matched=2`.
 * The functions log through Powertools, which writes one JSON object per write() to stdout (INFO,
 * DEBUG) or stderr (WARN, ERROR); this rewrites those writes and lets everything else through. Errors
 * arrive in the one shape `loggedError` gives them (already free of secrets) and are shown as
 * `error="Name [CODE]: message"`.
 */

/** Powertools' Lambda-context keys: constant noise on one machine. */
const HIDDEN_KEYS = new Set([
  "level",
  "message",
  "timestamp",
  "service",
  "sampling_rate",
  "cold_start",
  "function_name",
  "function_memory_size",
  "function_arn",
  "function_request_id",
  "xray_trace_id",
]);

type Color = Parameters<typeof styleText>[0];

const LEVEL_COLORS: Record<string, Color> = {
  DEBUG: "gray",
  INFO: "green",
  WARN: "yellow",
  ERROR: "red",
  CRITICAL: "red",
};

export function installReadableLogs(
  streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr],
): void {
  for (const stream of streams) {
    if (!stream.isTTY) continue;
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    const color = !process.env.NO_COLOR;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const rendered = typeof chunk === "string" ? renderLogLine(chunk, color) : undefined;
      return original(rendered ?? chunk, ...rest);
    }) as typeof stream.write;
  }
}

/** The readable form of one Powertools JSON line, or undefined when the text is not one. */
export function renderLogLine(text: string, color = false): string | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{") || !trimmed.endsWith("}")) return undefined;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof entry.level !== "string" || typeof entry.message !== "string") return undefined;
  const paint = (style: Color, value: string) => (color ? styleText(style, value) : value);

  const time = typeof entry.timestamp === "string" ? entry.timestamp.slice(11, 23) : "";
  const level = entry.level.toUpperCase();
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN_KEYS.has(key) && value !== undefined)
    .map(([key, value]) => `${paint("cyan", key)}=${formatValue(value)}`);
  const parts = [
    paint("gray", time),
    paint(LEVEL_COLORS[level] ?? "white", level.padEnd(5)),
    paint("magenta", String(entry.service ?? "").padEnd(12)),
    entry.message,
    ...fields,
  ];
  return `${parts.join(" ")}\n`;
}

function formatValue(value: unknown): string {
  if (isLoggedError(value)) return JSON.stringify(errorSummary(value));
  if (typeof value === "string") return /[\s"=]/.test(value) || value === "" ? JSON.stringify(value) : value;
  // Any JSON line on stdout is rendered, so its depth is not ours to trust: stringify with a bound.
  return JSON.stringify(value, depthBoundedReplacer(LOG_MAX_DEPTH)) ?? String(value);
}

/** An error as the functions log it (shared/adapters/observability.ts `loggedError`). */
function isLoggedError(value: unknown): value is LoggedError {
  if (typeof value !== "object" || value === null) return false;
  const { name, message } = value as Record<string, unknown>;
  return typeof name === "string" && typeof message === "string";
}

/** `Name [CODE]: message <- Cause: message`: the stack stays in the JSON form (pipe the output). */
function errorSummary(error: LoggedError): string {
  const head = `${error.name}${error.code === undefined ? "" : ` [${error.code}]`}: ${error.message}`;
  if (error.cause === undefined) return head;
  return `${head} <- ${typeof error.cause === "string" ? error.cause : errorSummary(error.cause)}`;
}
