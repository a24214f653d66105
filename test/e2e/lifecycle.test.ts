import { once } from "node:events";
import { createServer, type Server } from "node:net";
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
    const exit = await stack.interrupt();
    // Ctrl-C reaches npm too (the whole process group gets it); npm then re-raises SIGINT on itself
    // once the stack has exited, as shells expect. The stack's own exit is the "Stopped cleanly" line
    // (it exits 0 right after printing it; any error exits 1 and prints no such line).
    expect([
      { code: 0, signal: null },
      { code: null, signal: "SIGINT" },
    ]).toContainEqual({
      code: exit.code,
      signal: exit.signal,
    });
    expect(exit.ms).toBeLessThan(5_000);
    expect(stack.output()).toContain("Stopped cleanly");
    expect(stack.output()).not.toMatch(/error/i);
  });

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
