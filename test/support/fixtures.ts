import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { SQSRecord } from "aws-lambda";

/** The sample VoIPBIN events (a copy of ../shared/fixtures kept in local/fixtures), as PutEvents entries. */
export interface FixtureEntry {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
}

export const FIXTURES_DIR = path.resolve(import.meta.dirname, "../../local/fixtures");
/** The product's own fixtures beside the checkout; absent in a lone clone. */
export const SHARED_FIXTURES_DIR = path.resolve(import.meta.dirname, "../../../shared/fixtures");
export const CUSTOMER_A = "5e4a0680-804e-11ec-8477-2fea5968d85b";

export function loadFixtureEvents(): Map<string, FixtureEntry> {
  const dir = path.join(FIXTURES_DIR, "voipbin-events");
  const entries = new Map<string, FixtureEntry>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    entries.set(
      file.replace(/\.json$/, ""),
      JSON.parse(readFileSync(path.join(dir, file), "utf8")) as FixtureEntry,
    );
  }
  return entries;
}

let counter = 0;

/** The envelope EventBridge hands to the router for a PutEvents entry. */
export function eventBridgeEvent(entry: FixtureEntry, overrides: { id?: string; time?: string } = {}) {
  counter++;
  return {
    version: "0",
    id: overrides.id ?? `0d9b2c1e-7f3a-4b2c-9e1d-${String(counter).padStart(12, "0")}`,
    "detail-type": entry.DetailType,
    source: entry.Source,
    account: "123456789012",
    // As EventBridge sets it when the event is put: now, to the second. Delivery ids derive from it.
    time: overrides.time ?? `${new Date().toISOString().slice(0, 19)}Z`,
    region: "us-east-1",
    resources: [],
    detail: JSON.parse(entry.Detail) as unknown,
  };
}

/** One sample event by name (the file name without .json); throws when the fixture is missing. */
export function fixtureEvent(name: string): FixtureEntry {
  const entry = loadFixtureEvents().get(name);
  if (!entry) throw new Error(`fixture ${name} missing from ${FIXTURES_DIR}`);
  return entry;
}

/** A record of the router queue as its event source mapping hands it to the router (body: the event). */
export function routerQueueRecord(body: string, messageId: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `r-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: "1" },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:voipbin-webhooks-router",
    awsRegion: "us-east-1",
  } as unknown as SQSRecord;
}
