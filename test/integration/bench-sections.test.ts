import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { benchColdStart } from "../../bench/cold-start.ts";
import { benchDelivery } from "../../bench/delivery.ts";
import { benchDeadDeliveryCost } from "../../bench/delivery-cost.ts";
import { benchRouter } from "../../bench/router.ts";

describe("bench sections (small sizes)", () => {
  it("delivery: the handler and the bare loop both deliver everything and yield a ratio", async () => {
    const result = await benchDelivery({ deliveries: 40, invocations: 2, rounds: 1, progress: () => {} });
    expect(result.rounds).toHaveLength(1);
    expect(result.deliveries_per_s).toBeGreaterThan(0);
    expect(result.raw_http_per_s).toBeGreaterThan(0);
    expect(result.ratio_to_raw_http).toBeCloseTo(result.deliveries_per_s / result.raw_http_per_s, 2);
    expect(result.concurrency).toBe(20);
  }, 60_000);

  it("delivery-cost: every simulated delivery fails its eight attempts and ends dead, its write units counted", async () => {
    const result = await benchDeadDeliveryCost({ deliveries: 2, progress: () => {} });
    expect(result.deliveries).toBe(2);
    expect(result.attempts_per_delivery).toBe(8);
    // The goal (issue 22, bench/report.ts): ≤ 25 WRU per dead delivery. Eight attempts cost 17 (the
    // head put, eight attempt items, seven head updates, each ≤ 1 KB), the payload 1, the dead-letter
    // mark 1, the five waits longer than 900 s one head write each, the subscription's failing mark
    // 1 per subscription. A hop that wrote the head again (one per 900 s: ~100 more) fails here.
    expect(result.wru_per_delivery).toBeLessThanOrEqual(25);
    expect(result.dynamodb_requests_per_delivery["dynamodb.UpdateItem"]).toBeLessThanOrEqual(7 + 5 + 1 + 1);
  }, 120_000);

  it("router: counts the AWS requests of every event at each fan-out", async () => {
    const result = await benchRouter({ fanouts: [1, 10], events: 10, concurrency: 2, progress: () => {} });
    expect(Object.keys(result.events_per_s)).toEqual(["fanout_1", "fanout_10"]);
    // At least one subscription query and one SendMessageBatch (≤ 10 jobs) per event.
    expect(result.aws_requests_per_event.fanout_1).toBeGreaterThanOrEqual(2);
    expect(result.aws_requests_per_event.fanout_10).toBeGreaterThanOrEqual(2);
    expect(result.requests_by_operation.fanout_10?.["sqs.SendMessageBatch"]).toBeGreaterThanOrEqual(10);
    expect(result.requests_by_operation.fanout_10?.["dynamodb.Query"]).toBeGreaterThanOrEqual(10);
  }, 60_000);

  it("cold start: sizes and times each bundle of a cloud assembly against an empty module", async () => {
    const cdkOut = mkdtempSync(path.join(tmpdir(), "bench-cold-it-"));
    try {
      mkdirSync(path.join(cdkOut, "asset.1"));
      writeFileSync(
        path.join(cdkOut, "asset.1", "index.mjs"),
        `export const handler = async () => ${JSON.stringify("x".repeat(2048))};\n`,
      );
      writeFileSync(
        path.join(cdkOut, "Stack.template.json"),
        JSON.stringify({
          Resources: {
            Fn: {
              Type: "AWS::Lambda::Function",
              Metadata: { "aws:asset:path": "asset.1" },
              Properties: {
                MemorySize: 256,
                Environment: { Variables: { POWERTOOLS_SERVICE_NAME: "tiny" } },
              },
            },
          },
        }),
      );
      const result = await benchColdStart({ cdkOut, runs: 2, progress: () => {} });
      expect(result.node).toMatch(/^v24\./);
      expect(result.functions.tiny).toMatchObject({ memory_mb: 256 });
      expect(result.functions.tiny?.bundle_kb).toBeGreaterThanOrEqual(2);
      expect(result.functions.tiny?.init_ms_runs).toHaveLength(2);
      expect(result.max_init_ms).toBeGreaterThan(0);
      expect(result.baseline_empty_module_ms).toBeGreaterThan(0);
      // The lighter client path, built and timed in the same run: both PutItem probes answered.
      const paths = result.aws_client_paths;
      expect(paths?.sdk_v3.cpu_us_per_put_item).toBeGreaterThan(0);
      expect(paths?.aws4.cpu_us_per_put_item).toBeGreaterThan(0);
      expect(paths?.aws4.init_ms_runs).toHaveLength(2);
      expect(paths?.aws4.bundle_kb).toBeLessThan(paths?.sdk_v3.bundle_kb ?? 0);
    } finally {
      rmSync(cdkOut, { recursive: true, force: true });
    }
  }, 60_000);
});
