import { afterAll, describe, expect, it } from "vitest";
import { killAllStacks, startStack } from "../support/e2e-stack.ts";

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
});
