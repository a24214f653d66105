import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BenchReceiver, startBenchReceiver } from "../../bench/lib/receiver.ts";
import { measureReceiverCpuPerRequestMs } from "../../bench/lib/receiver-cpu.ts";

/**
 * The cost bench takes the in-process receiver's CPU out of each delivery batch's (bench/cost.ts):
 * the probe must really send its requests to that receiver and measure this process's CPU for them.
 */
let receiver: BenchReceiver;
const bodies: number[] = [];

beforeAll(async () => {
  receiver = await startBenchReceiver((body) => bodies.push(Buffer.byteLength(body)));
});
afterAll(() => receiver?.close());

describe("the cost bench's receiver CPU probe", () => {
  it("sends its requests of about the given size to the receiver and measures this process's CPU per request", async () => {
    const before = receiver.count;
    const perRequestMs = await measureReceiverCpuPerRequestMs({
      url: receiver.url,
      bytes: 1400,
      keepAlive: true,
      requests: 60,
    });
    // 20 warm-up requests, then the 60 measured.
    expect(receiver.count - before).toBe(80);
    // Headers and body together come to about the size asked; the body is what is left of it.
    expect(bodies.at(-1)).toBeGreaterThan(900);
    expect(bodies.at(-1)).toBeLessThan(1400);
    // Parsing and answering a request takes this process some CPU, and not whole milliseconds of it
    // even on a loaded machine.
    expect(perRequestMs).toBeGreaterThan(0);
    expect(perRequestMs).toBeLessThan(20);
  });
});
