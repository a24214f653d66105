import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePorts, killAllStacks, runNpmScript, startStack } from "../support/e2e-stack.ts";

afterAll(() => killAllStacks());

describe("npm start", () => {
  it("stops within seconds of Ctrl-C, after draining, without an error", async () => {
    const stack = await startStack({ inMemory: true });
    // The banner says what runs where, and it does.
    for (const endpoint of Object.values(stack.endpoints)) expect(stack.output()).toContain(endpoint);
    expect(stack.output()).toContain(`DYNAMODB_ENDPOINT=${stack.endpoints.dynamodb} npm run keys -- create`);
    const openapi = await fetch(`${stack.endpoints.api}/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(((await openapi.json()) as { openapi: string }).openapi).toMatch(/^3\.1/);
    // Ctrl-C reaches npm and the stack (the whole process group gets it) and npm forwards its SIGINT
    // too: one key press, delivered twice, is one clean stop, and npm exits with the stack's 0. (The
    // kernel often merges the two; a loaded machine's late copy is the second SIGINT sent here.)
    const late = setTimeout(() => process.kill(stack.pid, "SIGINT"), 150);
    const exit = await stack.interrupt();
    clearTimeout(late);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(5_000);
    expect(stack.output()).toContain("Stopped cleanly");
    expect(stack.output()).not.toMatch(/error|again/i);
  });

  it("prints commands with the ports it really listens on (a port of 0 too), and they work as printed", async () => {
    const stack = await startStack({ inMemory: true, env: { EVENTS_PORT: "0" } });
    try {
      const output = stack.output();
      const eventsPort = /EventBridge\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      expect(Number(eventsPort)).toBeGreaterThan(0);
      const { api, dynamodb, sqs } = stack.ports;
      expect(output).toContain(`    EVENTS_PORT=${eventsPort} npm run emit -- call_hangup`);
      expect(output).toContain(
        `    API_PORT=${api} EVENTS_PORT=${eventsPort} DYNAMODB_PORT=${dynamodb} npm run demo`,
      );
      const opsLine = /^ {4}((?:[A-Z_]+=\d+ )+)npm run ops -- dead-letters list/m.exec(output)?.[1];
      expect(opsLine).toBe(`SQS_PORT=${sqs} EVENTS_PORT=${eventsPort} DYNAMODB_PORT=${dynamodb} `);
      // The ops line as a user pastes it into another terminal.
      const printedEnv = Object.fromEntries(
        (opsLine ?? "")
          .trim()
          .split(" ")
          .map((pair) => pair.split("=") as [string, string]),
      );
      const ops = await runNpmScript("ops", ["dead-letters", "list"], printedEnv);
      expect(ops.code, ops.stderr).toBe(0);
    } finally {
      await stack.interrupt();
    }
  });

  // A supervisor, `timeout`, a Makefile's `kill $!` or CI signals the npm process only.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops the whole stack on ${signal} to the npm process: exit 0, ports and data lock released`, async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "voipbin-signals-"));
      try {
        const stack = await startStack({ dataDir });
        expect(existsSync(path.join(dataDir, "local-stack.pid"))).toBe(true);
        const exit = await stack.signalNpm(signal);
        expect({ code: exit.code, signal: exit.signal }, stack.output()).toEqual({ code: 0, signal: null });
        expect(stack.output()).toContain("Stopped cleanly");
        expect(existsSync(path.join(dataDir, "local-stack.pid"))).toBe(false);
        for (const port of Object.values(stack.ports))
          expect(await portIsFree(port), `port ${port}`).toBe(true);
        // The same data directory and ports start again at once.
        const again = await startStack({ dataDir, ports: stack.ports });
        expect((await again.signalNpm("SIGTERM")).code, again.output()).toBe(0);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }

  it("reports every configuration problem in one round, the stack's and the functions'", async () => {
    const result = await runNpmScript("start", ["--in-memory"], {
      API_PORT: "http",
      RETRY_JITTER: "9",
      DELIVERY_TIMEOUT_MS: "1",
      DENIED_DESTINATIONS: "nonsense",
    });
    expect(result.code).toBe(2);
    for (const variable of ["API_PORT", "RETRY_JITTER", "DELIVERY_TIMEOUT_MS", "DENIED_DESTINATIONS"]) {
      expect(result.stderr, result.stderr).toContain(`${variable}:`);
    }
  });

  it("names every busy port in one start", async () => {
    const ports = await freePorts();
    const taken: Server[] = [];
    for (const port of [ports.api, ports.sqs]) {
      const server = createServer().listen(port, "127.0.0.1");
      await once(server, "listening");
      taken.push(server);
    }
    try {
      const result = await runNpmScript("start", ["--in-memory"], {
        API_PORT: String(ports.api),
        EVENTS_PORT: String(ports.events),
        DYNAMODB_PORT: String(ports.dynamodb),
        SQS_PORT: String(ports.sqs),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`127.0.0.1:${ports.api} (API_PORT) is already in use`);
      expect(result.stderr).toContain(`127.0.0.1:${ports.sqs} (SQS_PORT) is already in use`);
    } finally {
      for (const server of taken) server.close();
    }
  });
});

/** Nothing listens on 127.0.0.1:port: a server can take it. */
async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
