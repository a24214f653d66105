import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface BenchReceiver {
  readonly url: string;
  readonly server: Server;
  /** Requests fully received, by path, with the time each arrived (performance.now() of this process). */
  readonly arrivals: number[];
  count: number;
  /** Bytes read from the connections (request lines, headers, bodies: what the senders wrote). */
  readonly bytesRead: () => number;
  /** Connections accepted (each a TCP, and on the internet a TLS, handshake). */
  readonly connections: () => number;
  close(): Promise<void>;
}

export interface BenchReceiverOptions {
  /** Milliseconds to wait before answering each request (a realistic endpoint's response time). */
  readonly delayMs?: () => number;
  /** Called as each answer is written (after its delay). */
  readonly onAnswer?: () => void;
}

/**
 * The cheapest honest endpoint: reads the whole body and answers 204 (or `answer`), with keep-alive.
 * `onRequest` sees each body (e.g. to take a timestamp for latency).
 */
export async function startBenchReceiver(
  onRequest?: (body: string, path: string) => void,
  answer: { status: number; body?: string } = { status: 204 },
  options: BenchReceiverOptions = {},
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
      const respond = () => {
        options.onAnswer?.();
        res.writeHead(answer.status, answer.body ? { "content-type": "text/html" } : {});
        res.end(answer.body);
      };
      const delay = options.delayMs?.() ?? 0;
      if (delay > 0) setTimeout(respond, delay);
      else respond();
    });
  });
  const sockets = new Set<Socket>();
  let closedBytes = 0;
  let accepted = 0;
  server.on("connection", (socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("close", () => {
      closedBytes += socket.bytesRead;
      sockets.delete(socket);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    bytesRead: () => closedBytes + [...sockets].reduce((sum, socket) => sum + socket.bytesRead, 0),
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
