import { afterAll, describe, expect, it } from "vitest";
import { freePorts, killAllStacks, runNpmScript, startStack } from "../support/e2e-stack.ts";

/** `npm run demo` as a person runs it: with its own stack, and attached to a running `npm start`. */

afterAll(() => killAllStacks());

function expectCompleteTour(output: string): void {
  // Five deliveries of the four events (one to the filtered subscription), each verified.
  expect(output.match(/signature verified/g)?.length).toBe(5);
  expect(output).toContain("/flow got call_created only");
  expect(output).toMatch(/attempt 4 at \+\d+\.\d s: 503/);
  expect(output).toContain("dead after 4 attempts");
  expect(output).toMatch(
    /delivered and verified, with the same webhook-id msg_[0-9a-f]{32} as the failed attempts/,
  );
  // The warnings about /flaky reach /all (`*`): its failing streak, its dead delivery, its recovery.
  expect(output).toContain(
    "/all got the warnings about /flaky: webhook_endpoint_failing, webhook_delivery_exhausted, webhook_endpoint_recovered",
  );
  expect(output).toMatch(/all 15 requests the receiver got verified with standardwebhooks/);
  expect(output).toMatch(/call_hangup\s+succeeded\s+attempts: 503 503 503 503 204/);
  expect(output).toMatch(/Done in \d+\.\d s\./);
  expect(output).not.toContain("✗");
  // Not on a terminal: no colour codes.
  expect(output).not.toContain("\u001b[");
}

describe("npm run demo", () => {
  it("starts its own stack when none answers, and walks through verified deliveries, retries and the log", {
    timeout: 90_000,
  }, async () => {
    // Ports nothing listens on, so that a stack a developer has running does not get in the way.
    const idle = await freePorts();
    const result = await runNpmScript(
      "demo",
      [],
      { API_PORT: String(idle.api), EVENTS_PORT: String(idle.events), DYNAMODB_PORT: String(idle.dynamodb) },
      60_000,
    );
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain("starting one in this process");
    expect(result.stdout).toContain("the job is in the dead-letter queue");
    expectCompleteTour(result.stdout);
  });

  it("attaches to a running local stack and uses its retry schedule", { timeout: 90_000 }, async () => {
    const stack = await startStack({ inMemory: true, env: { RETRY_SCHEDULE: "1,1,1" } });
    const result = await runNpmScript("demo", [], stack.cliEnv, 60_000);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain(
      `attached to the local stack already running: API ${stack.endpoints.api}`,
    );
    expect(result.stdout).toContain("its RETRY_SCHEDULE applies");
    expect(result.stdout).toContain("Cleaning up");
    expectCompleteTour(result.stdout);
    // The stack did the work: its own logs show the deliveries.
    expect(stack.output()).toMatch(/dead-letter/);
    await stack.interrupt();
  });
});
