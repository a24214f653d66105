import { type ChildProcess, fork } from "node:child_process";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { LOCAL_HOST } from "../../scripts/lib/local-stack.ts";
import { startBenchReceiver } from "../lib/receiver.ts";

/**
 * The outage stage's customer endpoints, in a process of their own (docs/delivery.md, "What the
 * outage ratio measures"). On AWS a customer's server shares no CPU with the delivery function nor
 * with another customer's server; in the stack's process, the failing customer's endpoint answering
 * its retries and the healthy customers' endpoint would queue on the same event loop as every local
 * function and stand-in, so the healthy endpoint's answers would be late by the outage's own work,
 * and the main lane's budget would then mark the healthy endpoint slow. Here they answer from their
 * own event loop; arrivals are reported with their epoch time (the same clock on one machine).
 *
 * - healthy: answers 204; reports each body's `bench_id` with the time it arrived;
 * - failing: answers 500 to everything; counts the requests per `bench_id`;
 * - black hole: accepts connections and never answers.
 */

const BENCH_ID = /"bench_id":"([^"]+)"/;

const ParentMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("counts") }),
  z.object({ type: z.literal("close") }),
]);

const ChildMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), healthy: z.string(), failing: z.string(), blackHole: z.string() }),
  z.object({ type: z.literal("healthy"), id: z.string(), at: z.number() }),
  z.object({ type: z.literal("counts"), failing: z.array(z.tuple([z.string(), z.number()])) }),
]);
type ChildMessage = z.infer<typeof ChildMessage>;

export interface OutageEndpoints {
  readonly urls: { readonly healthy: string; readonly failing: string; readonly blackHole: string };
  /** Healthy arrivals: `bench_id` → epoch ms of the first request. */
  readonly healthyArrivals: ReadonlyMap<string, number>;
  /** Requests the failing endpoint received, by `bench_id`. */
  failingCounts(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** Starts the endpoints' process and waits until they listen. */
export async function startOutageEndpoints(): Promise<OutageEndpoints> {
  const child: ChildProcess = fork(import.meta.filename, [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const healthyArrivals = new Map<string, number>();
  const waiting: ((message: ChildMessage) => void)[] = [];
  child.on("message", (raw) => {
    const message = ChildMessage.parse(raw);
    if (message.type === "healthy") {
      if (!healthyArrivals.has(message.id)) healthyArrivals.set(message.id, message.at);
    } else waiting.shift()?.(message);
  });
  const next = () =>
    new Promise<ChildMessage>((resolve, reject) => {
      waiting.push(resolve);
      child.once("exit", (code) => reject(new Error(`the outage endpoints exited (${code})`)));
    });
  const ready = await next();
  if (ready.type !== "ready") throw new Error(`the outage endpoints said ${ready.type} first`);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    urls: { healthy: ready.healthy, failing: ready.failing, blackHole: ready.blackHole },
    healthyArrivals,
    async failingCounts() {
      const answer = next();
      child.send({ type: "counts" });
      const counts = await answer;
      return new Map(counts.type === "counts" ? counts.failing : []);
    },
    async close() {
      if (child.exitCode === null && child.connected) child.send({ type: "close" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Accepts connections and never answers. */
async function startBlackHole(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, LOCAL_HOST, resolve));
  return {
    url: `http://${LOCAL_HOST}:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

async function child(): Promise<void> {
  const send = (message: ChildMessage) => process.send?.(message);
  const failing = new Map<string, number>();
  const healthy = await startBenchReceiver((body) => {
    const id = BENCH_ID.exec(body)?.[1];
    // Only the healthy customers' events (`h…`): the neighbours' are not timed.
    if (id?.startsWith("h")) send({ type: "healthy", id, at: performance.timeOrigin + performance.now() });
  });
  const failingEndpoint = await startBenchReceiver(
    (body) => {
      const id = BENCH_ID.exec(body)?.[1];
      if (id !== undefined) failing.set(id, (failing.get(id) ?? 0) + 1);
    },
    { status: 500, body: "outage" },
  );
  const blackHole = await startBlackHole();
  const close = async () => {
    blackHole.close();
    await Promise.all([healthy.close(), failingEndpoint.close()]);
    process.exit(0);
  };
  process.on("disconnect", () => void close());
  process.on("message", (raw) => {
    const message = ParentMessage.parse(raw);
    if (message.type === "counts") send({ type: "counts", failing: [...failing] });
    else void close();
  });
  send({ type: "ready", healthy: healthy.url, failing: failingEndpoint.url, blackHole: blackHole.url });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await child();
}
