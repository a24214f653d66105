import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The handlers emit only metric names declared in handlers/metrics.ts, the list the dashboard and
 * the alarms are built from (test/infra/stack.test.ts compares that list with the template). A name
 * typed as a string literal at an `addMetric` call would be emitted but never graphed or alarmed.
 */
const HANDLERS_DIR = path.resolve(import.meta.dirname, "../../handlers");

/** The first argument of every `addMetric(` call in a source file. */
function metricNameArguments(source: string): string[] {
  return [...source.matchAll(/\.addMetric\(\s*([^,]+),/g)].map((m) => (m[1] ?? "").trim());
}

const DECLARED = /^(METRIC_NAMES\.[a-z]+\.[A-Za-z]+|deliveryOutcomeMetric\([^)]*\))$/;

describe("metric names", () => {
  const files = readdirSync(HANDLERS_DIR).filter((f) => f.endsWith(".ts") && f !== "metrics.ts");

  it("every handler metric comes from handlers/metrics.ts", () => {
    const calls = files.flatMap((file) =>
      metricNameArguments(readFileSync(path.join(HANDLERS_DIR, file), "utf8")).map(
        (arg) => `${file}: ${arg}`,
      ),
    );
    expect(calls.length).toBeGreaterThanOrEqual(7);
    expect(calls.filter((call) => !DECLARED.test(call.split(": ")[1] ?? ""))).toEqual([]);
  });

  it("the check sees literal names", () => {
    const args = metricNameArguments(
      'metrics.addMetric("Oops", MetricUnit.Count, 1);\nmetrics?.addMetric(METRIC_NAMES.router.routed, MetricUnit.Count, 1);',
    );
    expect(args).toEqual(['"Oops"', "METRIC_NAMES.router.routed"]);
    expect(args.map((a) => DECLARED.test(a))).toEqual([false, true]);
  });
});
