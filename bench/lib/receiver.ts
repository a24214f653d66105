import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface BenchReceiver {
  readonly url: string;
  readonly server: Server;
  /** Requests fully received, by path, with the time each arrived (performance.now() of this process). */
  readonly arrivals: number[];
  count: number;
  close(): Promise<void>;
}

/**
 * The cheapest honest endpoint: reads the whole body and answers 204 (or `answer`), with keep-alive.
 * `onRequest` sees each body (e.g. to take a timestamp for latency).
 */
export async function startBenchReceiver(
  onRequest?: (body: string, path: string) => void,
  answer: { status: number; body?: string } = { status: 204 },
): Promise<BenchReceiver> {
  const receiver = {
    count: 0,
    arrivals: [] as number[],
  } as { count: number; arrivals: number[] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      receiver.count++;
      onRequest?.(Buffer.concat(chunks).toString("utf8"), req.url ?? "/");
      res.writeHead(answer.status, answer.body ? { "content-type": "text/html" } : {});
      res.end(answer.body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
