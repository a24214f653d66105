import { describe, expect, it } from "vitest";
import { type SearchProbe, searchSustainedRate } from "../../bench/e2e.ts";
import { startScriptNodeOptions } from "../../bench/lib/stack-process.ts";

/** A stack that sustains every rate up to `limit` events/s, and the runs the search asked for. */
function stackSustaining(limit: number) {
  const tried: { rate: number; probe: SearchProbe }[] = [];
  return {
    tried,
    tryRate: async (rate: number, probe: SearchProbe) => {
      tried.push({ rate, probe });
      return rate <= limit;
    },
  };
}

describe("the e2e throughput search", () => {
  it("bisects between the last sustained coarse step and the first failed one", async () => {
    // The last full run: 200 events/s sustained, 300 not; the maximum lies between.
    const stack = stackSustaining(213);
    const found = await searchSustainedRate([200, 300, 400], 3, stack.tryRate);
    expect(stack.tried.map((t) => t.rate)).toEqual([200, 300, 250, 225, 213]);
    expect(stack.tried.map((t) => t.probe.kind)).toEqual([
      "step",
      "step",
      "bisection",
      "bisection",
      "bisection",
    ]);
    expect(found).toBe(213);
  });

  it("never reports a rate that was not sustained, and stops bisecting when the interval is closed", async () => {
    const stack = stackSustaining(201);
    const found = await searchSustainedRate([200, 202], 5, stack.tryRate);
    expect(stack.tried.map((t) => t.rate)).toEqual([200, 202, 201]);
    expect(found).toBe(201);
  });

  it("bisects below the first step when even that one fails, and does not bisect when every step held", async () => {
    const low = stackSustaining(80);
    expect(await searchSustainedRate([200, 300], 2, low.tryRate)).toBe(50);
    expect(low.tried.map((t) => t.rate)).toEqual([200, 100, 50]);
    const high = stackSustaining(10_000);
    expect(await searchSustainedRate([200, 300], 3, high.tryRate)).toBe(300);
    expect(high.tried.map((t) => t.rate)).toEqual([200, 300]);
  });
});

describe("the bench's stack process", () => {
  it("runs node with the options of package.json's start script, as `npm start` does", () => {
    expect(startScriptNodeOptions()).toEqual(
      expect.arrayContaining(["--import", "tsx", expect.stringMatching(/^--max-semi-space-size=\d+$/)]),
    );
    const pkg = (start: string) => JSON.stringify({ scripts: { start } });
    expect(
      startScriptNodeOptions(pkg("exec node --import tsx --max-semi-space-size=8 local/main.ts")),
    ).toEqual(["--import", "tsx", "--max-semi-space-size=8"]);
    expect(startScriptNodeOptions(pkg("node local/main.ts"))).toEqual([]);
    expect(() => startScriptNodeOptions(pkg("tsx scripts/other.ts"))).toThrow(/start script/);
  });
});
