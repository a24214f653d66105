import { once } from "node:events";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HttpSender } from "../../shared/adapters/http-sender.ts";
import type { HttpAttemptRequest, HttpAttemptResult } from "../../shared/domain/ports/sender.ts";
import { loopbackReservedEndpoints, parseReservedEndpoints } from "../../shared/domain/reserved-endpoints.ts";
import {
  type AddressResolver,
  DestinationPolicy,
  resolveAndCheck,
} from "../../shared/domain/subscriptions/destination-policy.ts";

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  url: string;
  port: number;
  received: Received[];
  connections: number;
}

const servers: http.Server[] = [];
const senders: HttpSender[] = [];

afterEach(async () => {
  for (const sender of senders.splice(0)) sender.close();
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
});

/** A real server that records every request (after reading its body) before `handle` answers it. */
async function startServer(
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  host = "127.0.0.1",
): Promise<TestServer> {
  const state: TestServer = { url: "", port: 0, received: [], connections: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      state.received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      handle(req, res);
    });
  });
  server.on("connection", () => {
    state.connections += 1;
  });
  servers.push(server);
  server.listen(0, host);
  await once(server, "listening");
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://${host.includes(":") ? `[${host}]` : host}:${state.port}`;
  return state;
}

function senderWith(allowedCidrs: string[] = ["127.0.0.1/32"], resolver?: AddressResolver): HttpSender {
  const policy = new DestinationPolicy({ allowHttp: true, allowedCidrs });
  const sender = new HttpSender({ policy, ...(resolver ? { resolver } : {}) });
  senders.push(sender);
  return sender;
}

function attempt(url: string, overrides: Partial<HttpAttemptRequest> = {}): HttpAttemptRequest {
  return {
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"type":"call_created","data":{}}',
    timeoutMs: 2000,
    maxResponseBodyBytes: 4096,
    ...overrides,
  };
}

function expectError(
  result: HttpAttemptResult,
  error: string,
): Extract<HttpAttemptResult, { kind: "error" }> {
  expect(result).toMatchObject({ kind: "error", error });
  if (result.kind !== "error") throw new Error("unreachable");
  return result;
}

function expectResponse(result: HttpAttemptResult): Extract<HttpAttemptResult, { kind: "response" }> {
  expect(result.kind).toBe("response");
  if (result.kind !== "response") throw new Error(`expected a response, got ${JSON.stringify(result)}`);
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("HttpSender", () => {
  it("returns status, body and latency of a 200", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end("thanks"));
    const result = expectResponse(await senderWith().send(attempt(`${server.url}/hook`)));
    expect(result.statusCode).toBe(200);
    expect(result.responseBody).toBe("thanks");
    expect(result.retryAfter).toBeNull();
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(result.latencyMs).toBeLessThan(2000);
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.body).toBe('{"type":"call_created","data":{}}');
    expect(server.received[0]?.headers["content-length"]).toBe("33");
  });

  it("delivers the method, custom headers and body, and sets content-length itself", async () => {
    const server = await startServer((_req, res) => res.writeHead(204).end());
    const sender = senderWith();
    for (const method of ["PUT", "GET", "DELETE"] as const) {
      const result = await sender.send(
        attempt(`${server.url}/m`, {
          method,
          headers: { "x-custom": "hello", "webhook-id": "msg_1", "Content-Length": "9999" },
          body: "héllo",
        }),
      );
      expect(expectResponse(result).statusCode).toBe(204);
    }
    expect(server.received.map((r) => r.method)).toEqual(["PUT", "GET", "DELETE"]);
    for (const received of server.received) {
      expect(received.headers["x-custom"]).toBe("hello");
      expect(received.headers["webhook-id"]).toBe("msg_1");
      expect(received.headers["content-length"]).toBe(String(Buffer.byteLength("héllo")));
      expect(received.body).toBe("héllo");
    }
  });

  it("reuses keep-alive connections for the same endpoint", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end("ok"));
    const sender = senderWith();
    for (let i = 0; i < 3; i += 1) {
      expectResponse(await sender.send(attempt(`${server.url}/k`)));
    }
    expect(server.connections).toBe(1);
  });

  it("dials an allowed IPv6 literal (brackets stripped)", async () => {
    const server = await startServer((_req, res) => res.end("v6"), "::1");
    const result = await senderWith(["::1/128"]).send(attempt(`http://[::1]:${server.port}/`));
    expect(expectResponse(result).responseBody).toBe("v6");
    const blocked = await senderWith(["127.0.0.1/32"]).send(attempt(`http://[::1]:${server.port}/`));
    expectError(blocked, "blocked_destination");
  });

  it("returns the retry-after header", async () => {
    const server = await startServer((_req, res) => res.writeHead(503, { "retry-after": "120" }).end("busy"));
    const result = expectResponse(await senderWith().send(attempt(server.url)));
    expect(result).toMatchObject({ statusCode: 503, retryAfter: "120", responseBody: "busy" });
  });

  it("truncates the response body at the byte limit", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end("x".repeat(10_000)));
    const result = expectResponse(
      await senderWith().send(attempt(server.url, { maxResponseBodyBytes: 100 })),
    );
    expect(result.responseBody).toBe("x".repeat(100));
  });

  it("drops a multi-byte character cut by the limit instead of producing garbage", async () => {
    // "€" is three bytes; a limit of 7 keeps two of them and one byte of the third.
    const server = await startServer((_req, res) => res.writeHead(200).end("€€€€"));
    const result = expectResponse(await senderWith().send(attempt(server.url, { maxResponseBodyBytes: 7 })));
    expect(result.responseBody).toBe("€€");
  });

  it("keeps a U+FFFD the server really sent when nothing was cut", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end("ok\uFFFD"));
    const result = expectResponse(await senderWith().send(attempt(server.url)));
    expect(result.responseBody).toBe("ok\uFFFD");
  });

  it("stores nothing with a zero limit and still returns the status", async () => {
    const server = await startServer((_req, res) => res.writeHead(500).end("boom"));
    const result = expectResponse(await senderWith().send(attempt(server.url, { maxResponseBodyBytes: 0 })));
    expect(result).toMatchObject({ statusCode: 500, responseBody: "" });
  });

  it("returns promptly on a huge or endless body once the stored part is complete", async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200);
      const chunk = "y".repeat(16 * 1024);
      const timer = setInterval(() => res.write(chunk), 1);
      res.on("close", () => clearInterval(timer));
    });
    const result = expectResponse(
      await senderWith().send(attempt(server.url, { maxResponseBodyBytes: 10, timeoutMs: 5000 })),
    );
    expect(result.responseBody).toBe("y".repeat(10));
    expect(result.latencyMs).toBeLessThan(4000);
  });

  it("does not follow redirects", async () => {
    const target = await startServer((_req, res) => res.writeHead(200).end("target"));
    const redirecting = await startServer((_req, res) =>
      res.writeHead(302, { location: `${target.url}/stolen` }).end("moved"),
    );
    const result = expectResponse(await senderWith().send(attempt(`${redirecting.url}/hook`)));
    expect(result).toMatchObject({ statusCode: 302, responseBody: "moved" });
    await sleep(50);
    expect(target.received).toHaveLength(0);
    expect(redirecting.received).toHaveLength(1);
  });

  it("times out on a server that never answers", async () => {
    const server = await startServer(() => {
      /* never respond */
    });
    const result = expectError(await senderWith().send(attempt(server.url, { timeoutMs: 200 })), "timeout");
    expect(result.latencyMs).toBeGreaterThanOrEqual(190);
    expect(result.latencyMs).toBeLessThan(1500);
  });

  it("counts a slow body against the timeout", async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200);
      res.write("part one");
      setTimeout(() => res.end("part two"), 1000).unref();
    });
    const result = expectError(await senderWith().send(attempt(server.url, { timeoutMs: 200 })), "timeout");
    expect(result.latencyMs).toBeLessThan(900);
  });

  it("reports a closed port as connection refused", async () => {
    const closed = await startServer(() => {});
    const port = closed.port;
    const server = servers.pop();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const result = expectError(
      await senderWith().send(attempt(`http://127.0.0.1:${port}/`)),
      "connection_refused",
    );
    expect(result.message).toContain("ECONNREFUSED");
  });

  it("reports a socket the server destroys as connection reset", async () => {
    const server = await startServer((req) => req.socket.destroy());
    expectError(await senderWith().send(attempt(server.url)), "connection_reset");
  });

  it("refuses an IP literal in a blocked range without dialling", async () => {
    const server = await startServer((_req, res) => res.end("ok"));
    const sender = senderWith([]);
    const loopback = expectError(await sender.send(attempt(server.url)), "blocked_destination");
    expect(loopback.message).toContain("127.0.0.0/8");
    expectError(
      await sender.send(attempt("http://169.254.169.254/latest/meta-data/")),
      "blocked_destination",
    );
    expectError(
      await sender.send(attempt(`http://[::ffff:127.0.0.1]:${server.port}/`)),
      "blocked_destination",
    );
    expectError(await sender.send(attempt(`http://0x7f.1:${server.port}/`)), "blocked_destination");
    expectError(await sender.send(attempt(`http://localhost:${server.port}/`)), "blocked_destination");
    expect(server.connections).toBe(0);
  });

  it("never sends a byte to a reserved endpoint (DENIED_DESTINATIONS), even inside ALLOWED_CIDRS", async () => {
    const server = await startServer((_req, res) => res.end("ok"));
    const other = await startServer((_req, res) => res.end("ok"));
    const policy = new DestinationPolicy({
      allowHttp: true,
      allowedCidrs: ["0.0.0.0/0", "::/0"],
      reservedEndpoints: parseReservedEndpoints(loopbackReservedEndpoints([server.port])).endpoints,
    });
    // A name the create-time check never saw resolve to loopback: only the connect-time check can stop it.
    const resolver: AddressResolver = async () => [{ address: "127.0.0.1", family: 4 }];
    const sender = new HttpSender({ policy, resolver });
    senders.push(sender);
    for (const url of [server.url, `http://localhost:${server.port}/`, `http://0.0.0.0:${server.port}/`]) {
      const refused = expectError(await sender.send(attempt(url)), "blocked_destination");
      expect(refused.message).toContain(`:${server.port} is one of this system's own service endpoints`);
    }
    const rebound = expectError(
      await sender.send(attempt(`http://rebound.test:${server.port}/`)),
      "blocked_destination",
    );
    expect(rebound.message).toContain("own service endpoints");
    // The rebound name connects (only then is the peer known) and is cut before any request is written.
    expect(server.received).toHaveLength(0);
    // Another port of the same address is an ordinary destination.
    expect(expectResponse(await sender.send(attempt(`http://rebound.test:${other.port}/`))).statusCode).toBe(
      200,
    );
  });

  it("reports bad URLs as invalid destinations", async () => {
    const sender = senderWith();
    expectError(await sender.send(attempt("ftp://example.com/")), "invalid_destination");
    expectError(await sender.send(attempt("https://user:pw@example.com/")), "invalid_destination");
    expectError(await sender.send(attempt("not a url")), "invalid_destination");
  });

  it("does not echo header values in the message when Node rejects a header", async () => {
    const server = await startServer((_req, res) => res.end("ok"));
    const result = expectError(
      await senderWith().send(attempt(server.url, { headers: { "x-secret": "whsec_abc\r\nx-evil: 1" } })),
      "invalid_destination",
    );
    expect(result.message).not.toContain("whsec_abc");
    expect(server.received).toHaveLength(0);
  });

  it("reports a name that does not resolve as a DNS failure", async () => {
    const resolver: AddressResolver = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    };
    const result = expectError(
      await senderWith(["127.0.0.1/32"], resolver).send(attempt("http://nowhere.test/")),
      "dns_failure",
    );
    expect(result.message).toContain("ENOTFOUND");
  });

  it("defeats DNS rebinding: the address is checked again at connect time", async () => {
    // The server listens on 127.0.0.2, which the policy blocks (only 127.0.0.1/32 is allowed).
    const server = await startServer((_req, res) => res.end("should never be reached"), "127.0.0.2");
    let calls = 0;
    const rebinding: AddressResolver = async () => {
      calls += 1;
      return [{ address: calls === 1 ? "93.184.216.34" : "127.0.0.2", family: 4 }];
    };
    const policy = new DestinationPolicy({ allowHttp: true, allowedCidrs: ["127.0.0.1/32"] });
    await expect(resolveAndCheck("rebind.test", policy, rebinding)).resolves.toHaveLength(1);

    const sender = new HttpSender({ policy, resolver: rebinding });
    senders.push(sender);
    const result = expectError(
      await sender.send(attempt(`http://rebind.test:${server.port}/hook`)),
      "blocked_destination",
    );
    expect(result.message).toContain("127.0.0.0/8");
    expect(calls).toBe(2);
    expect(server.connections).toBe(0);
    expect(server.received).toHaveLength(0);
  });

  it("reaches the same server by name when the policy allows its address (so the test above is not vacuous)", async () => {
    const server = await startServer((_req, res) => res.end("reached"), "127.0.0.2");
    const resolver: AddressResolver = async () => [{ address: "127.0.0.2", family: 4 }];
    const result = await senderWith(["127.0.0.2/32"], resolver).send(
      attempt(`http://rebind.test:${server.port}/`),
    );
    expect(expectResponse(result).responseBody).toBe("reached");
    expect(server.received[0]?.headers.host).toBe(`rebind.test:${server.port}`);
  });

  it.each(["http", "https"])(
    "checks the connected peer address as well, and sends not one byte to a blocked one (%s)",
    async (scheme) => {
      // A raw TCP server, so that even a TLS ClientHello or a partial request would be counted.
      let bytes = 0;
      const raw = net.createServer((socket) => {
        socket.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
        });
        socket.on("error", () => {});
      });
      raw.listen(0, "127.0.0.1");
      await once(raw, "listening");
      const port = (raw.address() as AddressInfo).port;
      // A policy that lets the lookup through but blocks the address once the socket has connected,
      // standing in for any path by which a blocked address is dialled without the guarded lookup.
      class ChangesItsMind extends DestinationPolicy {
        calls = 0;
        override blockedRange(address: string): string | null {
          this.calls += 1;
          return this.calls === 1 ? null : `test range (${address})`;
        }
      }
      const policy = new ChangesItsMind({ allowHttp: true, allowedCidrs: [] });
      const resolver: AddressResolver = async () => [{ address: "127.0.0.1", family: 4 }];
      const sender = new HttpSender({ policy, resolver });
      senders.push(sender);
      try {
        const result = expectError(
          await sender.send(attempt(`${scheme}://peer.test:${port}/`)),
          "blocked_destination",
        );
        expect(result.message).toContain("test range");
        expect(policy.calls).toBe(2);
        await sleep(50);
        expect(bytes).toBe(0);
      } finally {
        await new Promise<void>((resolve) => raw.close(() => resolve()));
      }
    },
  );

  it("reports a TLS handshake failure as a TLS error", async () => {
    const server = await startServer((_req, res) => res.end("plain http"));
    const result = await senderWith().send(attempt(`https://127.0.0.1:${server.port}/`));
    expectError(result, "tls_error");
  });

  describe("idle pooled sockets are capped", () => {
    /** Resolves with the number of the server's sockets once `count` of them have closed. */
    async function serverWithClosures() {
      let gate: () => void = () => {};
      const release = new Promise<void>((resolve) => {
        gate = resolve;
      });
      let waiting = 0;
      const server = await startServer((_req, res) => {
        // Hold every answer until three requests are in, so they need three sockets at once.
        waiting += 1;
        if (waiting === 3) gate();
        void release.then(() => res.end("ok"));
      });
      const closed: number[] = [];
      const raw = servers.at(-1);
      raw?.on("connection", (socket) => socket.on("close", () => closed.push(Date.now())));
      return { server, closed };
    }

    it("closes an idle socket after freeSocketTimeoutMs", async () => {
      const server = await startServer((_req, res) => res.end("ok"));
      const closedAt: number[] = [];
      servers.at(-1)?.on("connection", (socket) => socket.on("close", () => closedAt.push(Date.now())));
      const policy = new DestinationPolicy({ allowHttp: true, allowedCidrs: ["127.0.0.1/32"] });
      const sender = new HttpSender({ policy, freeSocketTimeoutMs: 100 });
      senders.push(sender);
      const sentAt = Date.now();
      expectResponse(await sender.send(attempt(server.url)));
      await vi.waitFor(() => expect(closedAt).toHaveLength(1), { timeout: 5_000, interval: 20 });
      expect((closedAt[0] ?? 0) - sentAt).toBeGreaterThanOrEqual(90);
    });

    it("keeps at most maxFreeSockets idle per origin", async () => {
      const { server, closed } = await serverWithClosures();
      const policy = new DestinationPolicy({ allowHttp: true, allowedCidrs: ["127.0.0.1/32"] });
      const sender = new HttpSender({ policy, maxFreeSockets: 1 });
      senders.push(sender);
      const results = await Promise.all([1, 2, 3].map(() => sender.send(attempt(server.url))));
      for (const result of results) expectResponse(result);
      expect(server.connections).toBe(3);
      await vi.waitFor(() => expect(closed).toHaveLength(2), { timeout: 5_000, interval: 20 });
      // The one kept is reused.
      expectResponse(await sender.send(attempt(server.url)));
      expect(server.connections).toBe(3);
    });
  });

  describe("a pooled socket the endpoint closed while we were frozen (a Lambda thaw)", () => {
    /** One request on a fresh socket, the "Lambda freeze" while the server closes it, one more. */
    async function sendAfterThaw(mode: "answer-all" | "reset-after-first") {
      const server = await startClosingServer(mode);
      try {
        const sender = senderWith();
        expectResponse(await sender.send(attempt(`${server.url}/warm`)));
        await server.freezeUntilIdleSocketsClosed();
        const result = await sender.send(attempt(`${server.url}/after-thaw`));
        return { result, stats: await server.stats() };
      } finally {
        await server.stop();
      }
    }

    it("sends again on a new socket and answers once: one attempt, one delivery", async () => {
      const { result, stats } = await sendAfterThaw("answer-all");
      expect(expectResponse(result).statusCode).toBe(200);
      // The stale socket carried nothing the server read; the new socket carried the one request.
      expect(stats.paths).toEqual(["/warm", "/after-thaw"]);
      expect(stats.connections).toBe(2);
    });

    it("gives the endpoint's failure on the new socket as the attempt's result, not a third try", async () => {
      const { result, stats } = await sendAfterThaw("reset-after-first");
      expectError(result, "connection_reset");
      expect(stats.paths).toEqual(["/warm", "/after-thaw"]);
      expect(stats.connections).toBe(2);
    });

    it("does not send again when a new socket fails", async () => {
      const server = await startServer((req) => req.socket.destroy());
      expectError(await senderWith().send(attempt(server.url)), "connection_reset");
      expect(server.connections).toBe(1);
      expect(server.received).toHaveLength(1);
    });
  });
});

interface ClosingServer {
  url: string;
  /**
   * Blocks this thread (timers, sockets, everything: like a frozen Lambda environment) until the
   * server, on its own thread, has closed every idle keep-alive socket.
   */
  freezeUntilIdleSocketsClosed(): Promise<void>;
  stats(): Promise<{ connections: number; paths: string[] }>;
  stop(): Promise<void>;
}

/**
 * A real server on a worker thread that closes idle keep-alive sockets when told to, while the test's
 * thread is blocked and cannot see the close: the socket stays in our pool, stale, as after a thaw.
 * No `Keep-Alive: timeout` header (keepAliveTimeout 0), so the client pools the socket.
 */
const CLOSING_SERVER = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const closed = new Int32Array(workerData.flag);
const sockets = new Set();
const paths = [];
let connections = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    paths.push(req.url);
    if (workerData.mode === "reset-after-first" && req.socket.ordinal > 1) return req.socket.destroy();
    res.end("ok");
  });
});
server.keepAliveTimeout = 0;
server.on("connection", (socket) => {
  connections += 1;
  socket.ordinal = connections;
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
});
parentPort.on("message", (message) => {
  if (message === "close-idle") {
    const open = [...sockets];
    let left = open.length;
    const done = () => { Atomics.store(closed, 0, 1); Atomics.notify(closed, 0); };
    if (left === 0) done();
    for (const socket of open) { socket.once("close", () => { left -= 1; if (left === 0) done(); }); socket.destroy(); }
  } else if (message === "stats") {
    parentPort.postMessage({ connections, paths });
  } else if (message === "stop") {
    server.closeAllConnections();
    server.close(() => parentPort.postMessage("stopped"));
  }
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
`;

async function startClosingServer(mode: "answer-all" | "reset-after-first"): Promise<ClosingServer> {
  const flag = new SharedArrayBuffer(4);
  const closed = new Int32Array(flag);
  const worker = new Worker(CLOSING_SERVER, { eval: true, workerData: { flag, mode } });
  const [{ port }] = (await once(worker, "message")) as [{ port: number }];
  return {
    url: `http://127.0.0.1:${port}`,
    async freezeUntilIdleSocketsClosed() {
      // Let the finished response hand its socket back to the pool first.
      await new Promise((resolve) => setImmediate(resolve));
      Atomics.store(closed, 0, 0);
      worker.postMessage("close-idle");
      expect(Atomics.wait(closed, 0, 0, 10_000)).not.toBe("timed-out");
    },
    async stats() {
      worker.postMessage("stats");
      const [stats] = (await once(worker, "message")) as [{ connections: number; paths: string[] }];
      return stats;
    },
    async stop() {
      worker.postMessage("stop");
      await once(worker, "message");
      await worker.terminate();
    },
  };
}

describe("HttpSender, legacy transport (VoIPBIN's rules, PRODUCT §11)", () => {
  const legacy = { maxRedirects: 3, responseHeadersTimeoutMs: 1500, timeoutMs: 3000 };
  const legacyAttempt = (url: string, overrides: Partial<HttpAttemptRequest> = {}) =>
    attempt(url, { legacy, timeoutMs: legacy.timeoutMs, ...overrides });

  it("follows a 307 to another receiver with the same method, body and headers", async () => {
    const target = await startServer((_req, res) => res.writeHead(200).end("ok"));
    const redirecting = await startServer((_req, res) =>
      res.writeHead(307, { location: `${target.url}/moved?x=1` }).end(),
    );
    const result = expectResponse(
      await senderWith().send(
        legacyAttempt(`${redirecting.url}/hook`, {
          headers: { "content-type": "application/json", "x-voipbin-signature": "sha256=abc" },
        }),
      ),
    );
    expect(result.statusCode).toBe(200);
    expect(target.received).toEqual([
      expect.objectContaining({
        method: "POST",
        url: "/moved?x=1",
        body: '{"type":"call_created","data":{}}',
      }),
    ]);
    expect(target.received[0]?.headers["x-voipbin-signature"]).toBe("sha256=abc");
    expect(target.received[0]?.headers.referer).toBe(`${redirecting.url}/hook`);
  });

  it("turns a POST into a GET without a body on 301/302/303, as Go's client does", async () => {
    for (const status of [301, 302, 303]) {
      const target = await startServer((_req, res) => res.writeHead(204).end());
      const redirecting = await startServer((_req, res) =>
        res.writeHead(status, { location: `${target.url}/after` }).end("moved"),
      );
      expectResponse(await senderWith().send(legacyAttempt(`${redirecting.url}/hook`)));
      expect(target.received).toHaveLength(1);
      expect(target.received[0]).toMatchObject({ method: "GET", body: "" });
      expect(target.received[0]?.headers["content-length"]).toBeUndefined();
      expect(target.received[0]?.headers["content-type"]).toBe("application/json");
    }
  });

  it("follows at most 3 hops: the 4th answer, a redirect, is the attempt's result", async () => {
    const loop = await startServer((req, res) => {
      const n = Number((req.url ?? "/0").slice(1));
      res.writeHead(302, { location: `/${n + 1}` }).end();
    });
    const result = expectResponse(await senderWith().send(legacyAttempt(`${loop.url}/0`)));
    expect(result.statusCode).toBe(302);
    expect(loop.received.map((r) => r.url)).toEqual(["/0", "/1", "/2", "/3"]);
  });

  it("does not follow a redirect to a blocked address, by literal or by what the name resolves to when dialled", async () => {
    const redirecting = await startServer((req, res) =>
      res
        .writeHead(302, {
          location:
            req.url === "/literal" ? "http://10.0.0.1/steal" : `http://rebind.test:${redirecting.port}/again`,
        })
        .end(),
    );
    const resolver: AddressResolver = async (hostname) =>
      hostname === "rebind.test"
        ? [{ address: "10.1.2.3", family: 4 }]
        : [{ address: "127.0.0.1", family: 4 }];
    const sender = senderWith(["127.0.0.1/32"], resolver);
    expectError(await sender.send(legacyAttempt(`${redirecting.url}/literal`)), "blocked_destination");
    expectError(await sender.send(legacyAttempt(`${redirecting.url}/name`)), "blocked_destination");
    // Two first hops answered; no request reached anything else (the names' address was refused at connect).
    expect(redirecting.received.map((r) => r.url)).toEqual(["/literal", "/name"]);
  });

  it("accepts http:// where the deployment requires https, and sends user-info as Basic auth", async () => {
    const server = await startServer((_req, res) => res.writeHead(200).end());
    const policy = new DestinationPolicy({ allowHttp: false, allowedCidrs: ["127.0.0.1/32"] });
    const sender = new HttpSender({ policy });
    senders.push(sender);
    const url = server.url.replace("http://", "http://acme:p%40ss@");
    expectError(await sender.send(attempt(url)), "invalid_destination");
    expectResponse(await sender.send(legacyAttempt(url)));
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from("acme:p@ss").toString("base64")}`,
    );
  });

  it("gives up on response headers after responseHeadersTimeoutMs, before the attempt's timeout", async () => {
    const server = await startServer(() => {
      /* never answer */
    });
    const started = performance.now();
    const result = expectError(
      await senderWith().send(
        legacyAttempt(server.url, { legacy: { ...legacy, responseHeadersTimeoutMs: 200 } }),
      ),
      "timeout",
    );
    expect(result.message).toBe("no response headers within 200 ms");
    expect(performance.now() - started).toBeLessThan(2500);
  });
});
