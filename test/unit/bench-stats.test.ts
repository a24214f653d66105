import { describe, expect, it } from "vitest";
import { histogram, median, niceCeil, percentile, summarize } from "../../bench/lib/stats.ts";
import { escapeXml, renderLatencySvg } from "../../bench/lib/svg.ts";

const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

describe("bench statistics", () => {
  it("interpolates percentiles between closest ranks", () => {
    expect(percentile(oneToHundred, 50)).toBeCloseTo(50.5);
    expect(percentile(oneToHundred, 99)).toBeCloseTo(99.01);
    expect(percentile(oneToHundred, 0)).toBe(1);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("summarizes unsorted samples", () => {
    const s = summarize([5, 1, 4, 2, 3]);
    expect(s).toMatchObject({ count: 5, min: 1, max: 5, mean: 3, p50: 3 });
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("bins every sample once, outliers beyond the range as overflow", () => {
    const { bins, overflow } = histogram([0, 1, 1.5, 9.99, 10, 50], { bins: 10, max: 10 });
    expect(bins).toHaveLength(10);
    expect(bins[0]).toEqual({ from: 0, to: 1, count: 1 });
    expect(bins[1]?.count).toBe(2);
    expect(bins[9]?.count).toBe(2); // 9.99 and the upper edge 10
    expect(overflow).toBe(1);
    expect(bins.reduce((t, b) => t + b.count, 0) + overflow).toBe(6);
  });

  it("picks round axis maxima", () => {
    expect(niceCeil(0.7)).toBeCloseTo(0.8);
    expect(niceCeil(13)).toBe(15);
    expect(niceCeil(230)).toBe(250);
    expect(niceCeil(50_378)).toBe(60_000);
    expect(niceCeil(0)).toBe(1);
  });
});

describe("latency chart", () => {
  const samples = Array.from({ length: 500 }, (_, i) => 5 + (i % 50) + (i === 499 ? 400 : 0));

  it("renders a self-contained, deterministic SVG with bars, the CDF and percentile marks", () => {
    const svg = renderLatencySvg(samples, { title: "e2e <latency>", subtitle: "200/s & fan-out 3" });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("e2e &lt;latency&gt;");
    expect(svg).toContain("200/s &amp; fan-out 3");
    expect(svg).toContain("<polyline");
    expect(svg).toMatch(/p50 \d+/);
    expect(svg).toMatch(/p99 \d+/);
    expect((svg.match(/<rect /g) ?? []).length).toBeGreaterThan(10);
    expect(renderLatencySvg(samples, { title: "t" })).toBe(
      renderLatencySvg([...samples].reverse(), { title: "t" }),
    );
    // The CDF ends at 100 % (the top of the plot) when no sample is beyond the range.
    const inRange = renderLatencySvg([1, 2, 3], { title: "t", bins: 3 });
    const points = /<polyline points="([^"]+)"/.exec(inRange)?.[1]?.split(" ") ?? [];
    expect(points.at(-1)?.split(",")[1]).toBe("56");
  });

  it("says so when there is nothing to draw", () => {
    expect(renderLatencySvg([], { title: "t" })).toContain("no samples");
    expect(escapeXml(`a"b`)).toBe("a&quot;b");
  });
});
