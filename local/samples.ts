import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { OPERATIONAL_EVENT_SOURCE } from "#shared/adapters/operational-events.ts";
import { CodedError } from "#shared/domain/errors.ts";
import { EVENT_CATALOGUE, isEventType, resourceOf } from "#shared/domain/events/catalogue.ts";
import { REPO_ROOT } from "./settings.ts";

/**
 * The sample VoIPBIN events `npm run emit` and `npm run demo` put on the local bus: the bundled
 * copies of the product's fixtures (local/fixtures/voipbin-events, PutEvents entry shape), or, for
 * any other catalogue type, a minimal event of that type.
 */

export const SAMPLES_DIR = path.join(REPO_ROOT, "local", "fixtures", "voipbin-events");

export interface SampleEntry {
  readonly Source: string;
  readonly DetailType: string;
  /** JSON text `{"customer_id": …, "data": {…}}`. */
  readonly Detail: string;
}

export class UnknownSampleError extends CodedError {
  override readonly name = "UnknownSampleError";
  readonly code = "SAMPLE_UNKNOWN";
}

/** The bundled samples by name (the file name, which is also the event type). */
export function loadSamples(dir = SAMPLES_DIR): Map<string, SampleEntry> {
  const samples = new Map<string, SampleEntry>();
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort()) {
    samples.set(
      file.replace(/\.json$/, ""),
      JSON.parse(readFileSync(path.join(dir, file), "utf8")) as SampleEntry,
    );
  }
  return samples;
}

/**
 * The customer of the local quickstart: the banner of `npm start` mints its key, and `npm run emit`
 * sends every sample to it unless told otherwise, so the two meet whichever sample is emitted.
 */
export const LOCAL_SAMPLE_CUSTOMER_ID = "5e4a0680-804e-11ec-8477-2fea5968d85b";

export interface SampleOptions {
  /** Re-address the event (detail.customer_id and data.customer_id) to this customer. */
  readonly customerId?: string;
  /** Set data.activeflow_id, for subscriptions filtered on an activeflow. */
  readonly activeflowId?: string;
}

/**
 * The entry for a sample name or an event type: the bundled sample when there is one, otherwise a
 * generated event of that catalogue type.
 */
export function sampleEntry(
  nameOrType: string,
  options: SampleOptions = {},
  samples = loadSamples(),
): SampleEntry {
  const sample = samples.get(nameOrType) ?? generated(nameOrType);
  const detail = JSON.parse(sample.Detail) as { customer_id: string; data: Record<string, unknown> };
  const customerId = options.customerId ?? detail.customer_id;
  const data: Record<string, unknown> = { ...detail.data, customer_id: customerId };
  if (options.activeflowId !== undefined) data.activeflow_id = options.activeflowId;
  return {
    Source: sample.Source,
    DetailType: sample.DetailType,
    Detail: JSON.stringify({ customer_id: customerId, data }),
  };
}

function generated(type: string): SampleEntry {
  if (!isEventType(type)) {
    throw new UnknownSampleError(
      `"${type}" is neither a bundled sample nor an event type of the catalogue (see GET /v1/event-types)`,
    );
  }
  const resource = resourceOf(type) ?? "webhook";
  const now = new Date().toISOString();
  const source = type.startsWith("webhook_") ? OPERATIONAL_EVENT_SOURCE : `voipbin.${resource}-manager`;
  const customerId = LOCAL_SAMPLE_CUSTOMER_ID;
  return {
    Source: source,
    DetailType: type,
    Detail: JSON.stringify({
      customer_id: customerId,
      data: { id: randomUUID(), customer_id: customerId, tm_create: now, tm_update: now },
    }),
  };
}

/** Every type `emit` accepts: the bundled samples first, then the rest of the catalogue. */
export function emittableTypes(samples = loadSamples()): { samples: string[]; generated: string[] } {
  const bundled = [...samples.keys()];
  return {
    samples: bundled,
    generated: EVENT_CATALOGUE.map((entry) => entry.type).filter((type) => !samples.has(type)),
  };
}
