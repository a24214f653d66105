import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE_SECONDS, loadConfig } from "#shared/config.ts";
import { ConfigError } from "#shared/domain/errors.ts";
import { SERVICE_VERSION } from "#shared/domain/version.ts";
import { deliveryQueueSettings } from "#shared/resources.ts";

const required = {
  TABLE_NAME: "voipbin-webhooks",
  DELIVERIES_TABLE_NAME: "voipbin-webhooks-deliveries",
  DELIVERY_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/delivery",
  DELIVERY_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/delivery-dlq",
  DELIVERY_BACKSTOP_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/delivery-backstop",
  UNROUTABLE_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/unroutable",
};

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig(required);
    expect(config.RETRY_SCHEDULE).toEqual(DEFAULT_RETRY_SCHEDULE_SECONDS);
    expect(config.DELIVERY_TIMEOUT_MS).toBe(15_000);
    expect(config.RESPONSE_BODY_MAX_BYTES).toBe(4096);
    expect(config.ALLOW_HTTP_URLS).toBe(false);
    expect(config.ALLOWED_CIDRS).toEqual([]);
    expect(config.AUTO_DISABLE_AFTER_SECONDS).toBe(5 * 86_400);
    expect(config.DELIVERY_RETENTION_DAYS).toBe(30);
    expect(config.MAX_SUBSCRIPTIONS_PER_CUSTOMER).toBe(50);
    expect(config.EVENT_BUS_NAME).toBe("voipbin-events");
  });

  it("parses overrides", () => {
    const config = loadConfig({
      ...required,
      RETRY_SCHEDULE: " 1, 2,4 ",
      ALLOWED_CIDRS: "127.0.0.0/8, ::1/128",
      ALLOW_HTTP_URLS: "true",
    });
    expect(config.RETRY_SCHEDULE).toEqual([1, 2, 4]);
    expect(config.ALLOWED_CIDRS).toEqual(["127.0.0.0/8", "::1/128"]);
    expect(config.ALLOW_HTTP_URLS).toBe(true);
  });

  it("reports every problem at once, naming each variable", () => {
    let error: unknown;
    try {
      loadConfig({
        RETRY_SCHEDULE: "5,soon,-1",
        ALLOWED_CIDRS: "10.0.0.0/33",
        DELIVERY_TIMEOUT_MS: "fast",
        ALLOW_HTTP_URLS: "maybe",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of [
      "TABLE_NAME",
      "DELIVERIES_TABLE_NAME",
      "DELIVERY_QUEUE_URL",
      "DELIVERY_DLQ_URL",
      "DELIVERY_BACKSTOP_QUEUE_URL",
      "UNROUTABLE_QUEUE_URL",
      "RETRY_SCHEDULE",
      "ALLOWED_CIDRS",
      "DELIVERY_TIMEOUT_MS",
      "ALLOW_HTTP_URLS",
    ]) {
      expect(problems).toContain(name);
    }
    expect(problems).toContain('"soon"');
  });

  it("rejects a delay SQS cannot express", () => {
    expect(() => loadConfig({ ...required, RETRY_SCHEDULE: "50000" })).toThrow(/43200/);
  });
});

describe("queue settings derived from the schedule", () => {
  it("redrives only as a backstop of receives that went wrong, whatever the schedule (our code dead-letters after the last attempt)", () => {
    const settings = deliveryQueueSettings(DEFAULT_RETRY_SCHEDULE_SECONDS);
    expect(settings.maxReceiveCount).toBe(35);
    expect(settings.retentionSeconds).toBeGreaterThanOrEqual(4 * 86_400);
    expect(settings.dlqRetentionSeconds).toBe(14 * 86_400);
    expect(deliveryQueueSettings([1, 2]).maxReceiveCount).toBe(35);
  });
});

describe("version", () => {
  it("matches package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(SERVICE_VERSION).toBe(pkg.version);
  });
});
