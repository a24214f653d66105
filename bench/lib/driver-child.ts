/**
 * The e2e bench's load driver, in a process of its own (bench/lib/driver.ts starts it): the open-loop
 * emitter (PutEvents to the local EventBridge, as a VoIPBIN service emits) and the receiver (the
 * customers' endpoint). Out of the stack's process so that the CPU, the RSS and the event loop
 * measured are the stack's alone. Every timestamp is epoch milliseconds with sub-millisecond
 * precision (`performance.timeOrigin + performance.now()`), so the parent can compare them with its own.
 */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { localCredentials } from "../../scripts/lib/local-stack.ts";
import { startBenchReceiver } from "./receiver.ts";
import { fixturePayload } from "./util.ts";

export interface EmitRequest {
  readonly type: "emit";
  readonly id: number;
  readonly tag: string;
  readonly rate: number;
  readonly seconds: number;
  readonly eventsEndpoint: string;
  readonly eventBusName: string;
  readonly customers: readonly string[];
}

/**
 * One customer's burst: `count` events (ids `<tag>:<seq>`) put at once, `entriesPerPut` entries per
 * PutEvents call, `parallel` calls at a time (the fairness bench's neighbour, bench/fairness.ts).
 */
export interface BurstRequest {
  readonly type: "burst";
  readonly id: number;
  readonly tag: string;
  readonly count: number;
  readonly entriesPerPut: number;
  readonly parallel: number;
  readonly eventsEndpoint: string;
  readonly eventBusName: string;
  readonly customer: string;
}

export interface EmitReport {
  readonly type: "emitted";
  readonly id: number;
  /** [seq, sent, accepted (or -1 when the call failed), customer index] per event. */
  readonly events: [number, number, number, number][];
  readonly firstSent: number;
  readonly failedPuts: number;
}

export type DriverMessage =
  | { readonly type: "ready"; readonly receiverUrl: string }
  | { readonly type: "arrivals"; readonly arrivals: [string, string, number][] }
  | EmitReport
  | { readonly type: "cpu"; readonly id: number; readonly cpuMs: number };

export type DriverRequest =
  | EmitRequest
  | BurstRequest
  | { readonly type: "cpu"; readonly id: number }
  | { readonly type: "stop" };

const now = () => performance.timeOrigin + performance.now();
const send = (message: DriverMessage) => process.send?.(message);

let pending: [string, string, number][] = [];
const flush = () => {
  if (pending.length === 0) return;
  send({ type: "arrivals", arrivals: pending });
  pending = [];
};
// Arrivals go to the parent in small batches: one IPC message per delivery would cost more than the delivery.
const flusher = setInterval(flush, 20);

const receiver = await startBenchReceiver((body, path) => {
  const at = now();
  const match = /"bench_id":"([^"]+)"/.exec(body);
  if (match?.[1]) pending.push([match[1], path, at]);
});

const clients = new Map<string, EventBridgeClient>();
function clientFor(endpoint: string): EventBridgeClient {
  let client = clients.get(endpoint);
  if (!client) {
    client = new EventBridgeClient({
      endpoint,
      region: "us-east-1",
      credentials: localCredentials(endpoint),
    });
    clients.set(endpoint, client);
  }
  return client;
}

/** The sample event's data, read once (not once per put). */
const CALL_HANGUP = fixturePayload("call_hangup");

/** One call's entries: a call_hangup of `customerId` per bench id. */
function entries(eventBusName: string, customerId: string, benchIds: readonly string[]) {
  const data = CALL_HANGUP;
  return benchIds.map((benchId) => ({
    EventBusName: eventBusName,
    Source: "voipbin.call-manager",
    DetailType: "call_hangup",
    Detail: JSON.stringify({
      customer_id: customerId,
      data: { ...data, customer_id: customerId, bench_id: benchId },
    }),
  }));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `rate` events/s for `seconds`, one entry per PutEvents, at most 1,000 in flight. */
async function emit(request: EmitRequest): Promise<EmitReport> {
  const client = clientFor(request.eventsEndpoint);
  const total = Math.max(1, Math.round(request.rate * request.seconds));
  const events: [number, number, number, number][] = [];
  const inFlight = new Set<Promise<void>>();
  let failedPuts = 0;
  const start = now();
  for (let seq = 0; seq < total; ) {
    const due = start + (seq / request.rate) * 1000;
    const at = now();
    if (at < due || inFlight.size >= 1000) {
      await sleep(Math.max(1, Math.min(due - at, 5)));
      continue;
    }
    const customer = seq % request.customers.length;
    const customerId = request.customers[customer] ?? "";
    const record: [number, number, number, number] = [seq, at, -1, customer];
    events.push(record);
    const put = client
      .send(
        new PutEventsCommand({
          Entries: entries(request.eventBusName, customerId, [`${request.tag}:${seq}`]),
        }),
      )
      .then(
        (response) => {
          record[2] = now();
          if ((response.FailedEntryCount ?? 0) > 0) failedPuts++;
        },
        () => {
          failedPuts++;
        },
      );
    inFlight.add(put);
    put.finally(() => inFlight.delete(put));
    seq++;
  }
  await Promise.all([...inFlight]);
  return {
    type: "emitted",
    id: request.id,
    events,
    firstSent: start,
    failedPuts,
  };
}

/** A burst (BurstRequest); each event's sent time is its call's. */
async function burst(request: BurstRequest): Promise<EmitReport> {
  const client = clientFor(request.eventsEndpoint);
  const calls: number[][] = [];
  for (let seq = 0; seq < request.count; seq += request.entriesPerPut) {
    calls.push(
      Array.from({ length: Math.min(request.entriesPerPut, request.count - seq) }, (_, i) => seq + i),
    );
  }
  const events: [number, number, number, number][] = [];
  let failedPuts = 0;
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: request.parallel }, async () => {
      for (let call = calls[next++]; call !== undefined; call = calls[next++]) {
        const at = now();
        const records = call.map((seq): [number, number, number, number] => [seq, at, -1, 0]);
        events.push(...records);
        try {
          const response = await client.send(
            new PutEventsCommand({
              Entries: entries(
                request.eventBusName,
                request.customer,
                call.map((seq) => `${request.tag}:${seq}`),
              ),
            }),
          );
          if ((response.FailedEntryCount ?? 0) > 0) failedPuts++;
          for (const record of records) record[2] = now();
        } catch {
          failedPuts++;
        }
      }
    }),
  );
  return { type: "emitted", id: request.id, events, firstSent: start, failedPuts };
}

process.on("message", (request: DriverRequest) => {
  if (request.type === "emit") {
    void emit(request).then(send);
  } else if (request.type === "burst") {
    void burst(request).then(send);
  } else if (request.type === "cpu") {
    const usage = process.cpuUsage();
    send({ type: "cpu", id: request.id, cpuMs: (usage.user + usage.system) / 1000 });
  } else if (request.type === "stop") {
    flush();
    clearInterval(flusher);
    for (const client of clients.values()) client.destroy();
    void receiver.close().then(() => process.disconnect());
  }
});
// The parent went away: nothing left to drive.
process.on("disconnect", () => process.exit(0));

send({ type: "ready", receiverUrl: receiver.url });
