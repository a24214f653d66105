import { describe, expect, it } from "vitest";
import { ConfigError } from "#shared/domain/errors.ts";
import { type LocalStackSettings, loadLocalSettings } from "../../local/settings.ts";

const settings = (env: Record<string, string>) => loadLocalSettings([], env) as LocalStackSettings;

describe("ROUTER_RETRY_DELAYS of npm start", () => {
  it("is Lambda's 60 and 120 s unless set, and one or two whole seconds when set", () => {
    expect(settings({}).routerRetryDelaysMs).toBeUndefined();
    expect(settings({ ROUTER_RETRY_DELAYS: "5,10" }).routerRetryDelaysMs).toEqual([5_000, 10_000]);
    expect(settings({ ROUTER_RETRY_DELAYS: "20" }).routerRetryDelaysMs).toEqual([20_000]);
  });

  it("refuses three retries (Lambda retries at most twice) and fractions, naming the variable", () => {
    for (const value of ["1,2,3", "0.5", "fast"]) {
      expect(() => settings({ ROUTER_RETRY_DELAYS: value })).toThrow(ConfigError);
      expect(() => settings({ ROUTER_RETRY_DELAYS: value })).toThrow(/ROUTER_RETRY_DELAYS/);
    }
  });
});
