import { describe, expect, it } from "vitest";
import { ConfigError } from "#shared/domain/errors.ts";
import { type LocalStackSettings, loadLocalSettings, USAGE } from "../../local/settings.ts";

const settings = (env: Record<string, string>) => loadLocalSettings([], env) as LocalStackSettings;

describe("SQS_INFLIGHT_LIMIT of npm start", () => {
  it("is SQS's 120,000 per queue unless set, and any whole number from 1 when set", () => {
    expect(settings({}).sqsInFlightLimit).toBe(120_000);
    expect(settings({ SQS_INFLIGHT_LIMIT: "2000" }).sqsInFlightLimit).toBe(2000);
    expect(USAGE).toContain("SQS_INFLIGHT_LIMIT [120000]");
  });

  it("refuses zero, fractions and words, naming the variable with every other problem", () => {
    for (const value of ["0", "1.5", "lots"]) {
      expect(() => settings({ SQS_INFLIGHT_LIMIT: value })).toThrow(ConfigError);
      expect(() => settings({ SQS_INFLIGHT_LIMIT: value, API_PORT: "-1" })).toThrow(
        /SQS_INFLIGHT_LIMIT[\s\S]*API_PORT|API_PORT[\s\S]*SQS_INFLIGHT_LIMIT/,
      );
    }
  });
});
