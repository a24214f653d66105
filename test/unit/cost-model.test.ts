import { describe, expect, it } from "vitest";
import {
  billedMs,
  egressBytesPerAttempt,
  expectedBatchSize,
  platformLogBytesPerInvocation,
} from "../../bench/lib/cost-model.ts";
import { ENDPOINT_LATENCY, latencySampler } from "../../bench/lib/latency.ts";

describe("the cost bench's endpoint latency", () => {
  it("is reproducible from its seed and has the documented median and 95th percentile", () => {
    const draw = (n: number) => {
      const sample = latencySampler(ENDPOINT_LATENCY);
      return Array.from({ length: n }, () => sample());
    };
    const a = draw(20_000);
    expect(draw(20_000)).toEqual(a);
    const sorted = [...a].sort((x, y) => x - y);
    expect(sorted[Math.floor(0.5 * sorted.length)]).toBeGreaterThan(140);
    expect(sorted[Math.floor(0.5 * sorted.length)]).toBeLessThan(160);
    expect(sorted[Math.floor(0.95 * sorted.length)]).toBeGreaterThan(470);
    expect(sorted[Math.floor(0.95 * sorted.length)]).toBeLessThan(530);
    expect(Math.max(...a)).toBeLessThanOrEqual(ENDPOINT_LATENCY.maxMs);
    expect(draw(5)).not.toEqual(
      Array.from({ length: 5 }, latencySampler({ ...ENDPOINT_LATENCY, seed: ENDPOINT_LATENCY.seed + 1 })),
    );
  });
});

describe("the cost model's arithmetic", () => {
  it("adds the CPU at the vCPU share of the memory to the waits, only the CPU that cannot overlap them", () => {
    // 1,769 MB is one vCPU.
    expect(billedMs(500, 40, 1769, 10)).toBe(510);
    // 256 MB is 0.1447 vCPU: the 10 serial ms take 69.1 ms.
    expect(billedMs(500, 40, 256, 10)).toBe(570);
    // Without a serial part given (the router), all CPU adds.
    expect(billedMs(20, 10, 256)).toBe(Math.ceil(20 + 10 / (256 / 1769)));
    // More CPU than the wait can hide: the invocation lasts as long as its CPU at that share.
    expect(billedMs(100, 100, 128, 0)).toBe(Math.ceil(100 / (128 / 1769)));
  });

  it("gathers batches from the arrival rate per poller and the window, at least one event's jobs", () => {
    expect(expectedBatchSize(10_000_000, 0, 3)).toBe(3);
    // 100 M a month is 38 deliveries/s, 7.6 per poller-second with 5 pollers.
    expect(expectedBatchSize(100_000_000, 1, 3)).toBeCloseTo(7.61, 1);
    expect(expectedBatchSize(100_000_000, 2, 3)).toBe(10);
  });

  it("counts Lambda's platform lines only where the log format and level write them", () => {
    const base = { memory_mb: 256, tracing: false };
    expect(platformLogBytesPerInvocation({ ...base, log_format: "JSON", system_log_level: "WARN" })).toBe(0);
    expect(
      platformLogBytesPerInvocation({ ...base, log_format: "JSON", system_log_level: "INFO" }),
    ).toBeGreaterThan(300);
    expect(
      platformLogBytesPerInvocation({ ...base, log_format: "Text", system_log_level: "INFO" }),
    ).toBeGreaterThan(300);
    expect(
      platformLogBytesPerInvocation({ ...base, tracing: true, log_format: "Text", system_log_level: "INFO" }),
    ).toBeGreaterThan(
      platformLogBytesPerInvocation({ ...base, log_format: "Text", system_log_level: "INFO" }),
    );
  });

  it("puts TLS framing, a handshake and TCP/IP headers on top of the HTTP bytes of an attempt", () => {
    expect(egressBytesPerAttempt(1450)).toBe(1450 + 22 + 600 + 320);
    expect(egressBytesPerAttempt(40_000)).toBe(40_000 + 3 * 22 + 600 + 320);
  });
});
