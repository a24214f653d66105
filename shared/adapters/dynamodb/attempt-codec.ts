/**
 * How one delivery attempt is stored (docs/data-model.md, "Deliveries, layout 3"): a JSON tuple,
 * raw DEFLATE with a preset dictionary, in the head's `a1z` (a successful first attempt) or an
 * attempt item's `z`. Pure: the repository (deliveries.ts) decides where the bytes go.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { AttemptTiming, DeliveryAttempt } from "../../domain/delivery/delivery.ts";

/**
 * Strings every stored attempt repeats (header names, fixed values): a preset DEFLATE dictionary, so
 * that even the first occurrence in a small blob costs a back-reference. Frozen: blobs written with
 * it are read with it. A change of dictionary needs a new blob attribute name.
 */
const ATTEMPT_DICTIONARY = Buffer.from(
  [
    '"webhook-signature":"v1,',
    '"webhook-timestamp":"',
    '"x-voipbin-signature":"sha256=',
    '"webhook-id":"msg_',
    '"content-type":"application/json"',
    '"user-agent":"voipbin-webhooks/',
    "https://",
    '"POST","PUT","GET","DELETE"',
    "timeout: no response within",
    "connection_error: ",
    "<!DOCTYPE html><html><head><title>",
    "Service Unavailable",
    "Internal Server Error",
    "Bad Gateway",
    "Gateway Timeout",
    "Not Found",
  ].join(""),
  "utf8",
);

/** One attempt as stored, before compression: a tuple, so field names are not repeated per attempt. */
type StoredAttempt = [
  at: string,
  statusCode: number | null,
  error: string | null,
  latencyMs: number,
  responseBody: string | null,
  request: [method: string, url: string, headers: Record<string, string>] | null,
  /** Absent on attempts written before it was kept, and when there is nothing to say. */
  timing?: StoredTiming,
];

/**
 * AttemptTiming as it rides in the blob ("why was it late", docs/delivery.md): short names, and
 * instants as milliseconds from the attempt's own time (`d` before it, `r` after it), ~16 bytes
 * compressed where two ISO strings took ~25 — an attempt with a 4 KiB error page stays within one
 * write unit.
 */
interface StoredTiming {
  d?: number;
  r?: number;
  h?: number;
  s?: 1;
}

function storedTiming(at: string, timing: AttemptTiming | undefined): StoredTiming | undefined {
  if (timing === undefined) return undefined;
  const atMs = Date.parse(at);
  const offset = (iso: string | undefined, sign: 1 | -1) => {
    const value = iso === undefined ? Number.NaN : (Date.parse(iso) - atMs) * sign;
    return Number.isFinite(value) ? value : undefined;
  };
  const d = offset(timing.due_at, -1);
  const r = offset(timing.retry_at, 1);
  const stored: StoredTiming = {
    ...(d !== undefined ? { d } : {}),
    ...(r !== undefined ? { r } : {}),
    ...(timing.held_ms !== undefined && timing.held_ms > 0 ? { h: timing.held_ms } : {}),
    ...(timing.slow_lane === true ? { s: 1 as const } : {}),
  };
  return Object.keys(stored).length > 0 ? stored : undefined;
}

function attemptTiming(at: string, stored: StoredTiming | undefined): AttemptTiming | undefined {
  if (stored === undefined || typeof stored !== "object" || stored === null) return undefined;
  const atMs = Date.parse(at);
  const instant = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : undefined);
  const due = typeof stored.d === "number" ? instant(atMs - stored.d) : undefined;
  const retry = typeof stored.r === "number" ? instant(atMs + stored.r) : undefined;
  return {
    ...(due !== undefined ? { due_at: due } : {}),
    ...(retry !== undefined ? { retry_at: retry } : {}),
    ...(typeof stored.h === "number" ? { held_ms: stored.h } : {}),
    ...(stored.s === 1 ? { slow_lane: true as const } : {}),
  };
}

/** An attempt as stored: a JSON tuple, raw DEFLATE with a preset dictionary (bodies and headers compress well). */
export function encodeAttempt(attempt: DeliveryAttempt): Uint8Array {
  const stored: StoredAttempt = [
    attempt.at,
    attempt.status_code,
    attempt.error,
    attempt.latency_ms,
    attempt.response_body,
    attempt.request ? [attempt.request.method, attempt.request.url, attempt.request.headers] : null,
  ];
  const timing = storedTiming(attempt.at, attempt.timing);
  if (timing !== undefined) stored.push(timing);
  // Level 6 (zlib's default), not 9: on attempt records it compresses as small or smaller (a 200
  // with its request: 173 bytes either way; a 4 KiB HTML error page: 945 vs 949) in ~20–25 % less
  // CPU (38 vs 48 µs, 60 vs 81 µs), on the path of every attempt. A smaller window (windowBits 10)
  // is faster still but lets the error page grow to 1,020 bytes, next to the 1 KB write unit.
  return deflateRawSync(Buffer.from(JSON.stringify(stored), "utf8"), {
    level: 6,
    dictionary: ATTEMPT_DICTIONARY,
  });
}

/** An attempt as `encodeAttempt` stored it; null for anything that is not such a blob (no attempt there). */
export function decodeAttempt(blob: unknown): DeliveryAttempt | null {
  if (!(blob instanceof Uint8Array)) return null;
  const [at, statusCode, error, latencyMs, responseBody, request, stored] = JSON.parse(
    inflateRawSync(blob, { dictionary: ATTEMPT_DICTIONARY }).toString("utf8"),
  ) as StoredAttempt;
  const timing = attemptTiming(at, stored);
  return {
    ...(timing !== undefined ? { timing } : {}),
    at,
    status_code: statusCode,
    error,
    latency_ms: latencyMs,
    response_body: responseBody,
    request: request ? { method: request[0], url: request[1], headers: request[2] } : null,
  };
}
