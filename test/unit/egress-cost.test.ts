import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fixedEgressCost } from "../../bench/lib/egress-cost.ts";

describe("fixed egress cost (bench/lib/egress-cost.ts)", () => {
  it("prices NAT gateway and Elastic IP hours per zone and NAT processing per delivery", () => {
    const two = fixedEgressCost(2);
    // 2 × 730 h × ($0.045 NAT + $0.005 IPv4) = $73.00; 8.5 GB per million × $0.045 = $0.38.
    expect(two.fixed_usd_per_month).toBe(73);
    expect(two.usd_per_million_deliveries_variable).toBe(0.38);
    expect(two.usd_per_million_deliveries_at).toEqual({
      "1000000": 73.38,
      "10000000": 7.68,
      "100000000": 1.11,
    });
    expect(fixedEgressCost(1).fixed_usd_per_month).toBe(36.5);
    expect(() => fixedEgressCost(0)).toThrow(/azs/);
  });

  it("is what docs/deploy.md quotes", () => {
    const deploy = readFileSync(new URL("../../docs/deploy.md", import.meta.url), "utf8");
    const two = fixedEgressCost(2);
    const one = fixedEgressCost(1);
    for (const figure of [
      two.fixed_usd_per_month,
      one.fixed_usd_per_month,
      two.usd_per_million_deliveries_variable,
      ...Object.values(two.usd_per_million_deliveries_at),
    ]) {
      expect(deploy).toContain(`$${figure.toFixed(2)}`);
    }
  });
});
