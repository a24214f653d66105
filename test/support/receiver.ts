import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the customer's server saw it. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent on the request line. */
  url: string;
  /** Lower-case names; repeated headers joined with ", " (what standardwebhooks' verify expects). */
  headers: Record<string, string>;
  /** The raw body, undecoded, so signatures can be checked byte for byte. */
  body: string;
  /** Epoch milliseconds when the body had fully arrived. */
  receivedAt: number;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer this late, e.g. to exceed the delivery timeout. */
  delayMs?: number;
}

/** `n` is the 1-based number of this request among all the receiver has seen. */
export type Responder = (request: RecordedRequest, n: number) => ScriptedResponse | Promise<ScriptedResponse>;

export interface Receiver {
  /** http://127.0.0.1:PORT, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Resolves with the requests so far once at least `count` have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export class ReceiverTimeoutError extends Error {
  override readonly name = "ReceiverTimeoutError";
}

const ok: Responder = () => ({ status: 200, body: "ok" });

/**
 * A real HTTP endpoint on loopback standing in for a customer's server: it records each request
 * and answers as `respond` scripts it (200 "ok" by default).
 */
export async function startReceiver(respond: Responder = ok): Promise<Receiver> {
  const requests: RecordedRequest[] = [];
  const arrivals = new EventEmitter();
  const pendingTimers = new Set<NodeJS.Timeout>();

  const server = createServer(async (req, res) => {
    let body: string;
    try {
      body = await readBody(req);
    } catch {
      // The client went away mid-body; there is nobody left to answer.
      res.destroy();
      return;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: flattenHeaders(req),
      body,
      receivedAt: Date.now(),
    };
    requests.push(recorded);
    const n = requests.length;
    arrivals.emit("request");

    let scripted: ScriptedResponse;
    try {
      scripted = await respond(recorded, n);
    } catch (err) {
      scripted = { status: 500, body: `receiver script failed: ${String(err)}` };
    }
    const send = () => {
      // The client may have given up (delivery timeout) while the answer was delayed.
      if (res.destroyed) return;
      res.writeHead(scripted.status, scripted.headers);
      res.end(scripted.body ?? "");
    };
    if (scripted.delayMs && scripted.delayMs > 0) {
      const timer = setTimeout(() => {
        pendingTimers.delete(timer);
        send();
      }, scripted.delayMs);
      pendingTimers.add(timer);
    } else {
      send();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    waitForRequests(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < count) return false;
          clearTimeout(timer);
          arrivals.off("request", check);
          resolve([...requests]);
          return true;
        };
        const timer = setTimeout(() => {
          arrivals.off("request", check);
          reject(
            new ReceiverTimeoutError(
              `expected ${count} request(s) within ${timeoutMs} ms, got ${requests.length}`,
            ),
          );
        }, timeoutMs);
        if (!check()) arrivals.on("request", check);
      });
    },
    async close() {
      for (const timer of pendingTimers) clearTimeout(timer);
      pendingTimers.clear();
      const closed = new Promise<void>((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      );
      // Keep-alive sockets from the delivery client would otherwise hold close() open.
      server.closeAllConnections();
      await closed;
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}
