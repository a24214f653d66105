import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger, createMetrics, instrumented } from "#shared/adapters/observability.ts";
import { DependencyError } from "#shared/domain/errors.ts";
import { loggedError } from "#shared/domain/ports/logger.ts";
import { renderLogLine } from "../../local/log-format.ts";
import { captureOutput } from "../support/output.ts";
import { lambdaContext } from "../support/pipeline.ts";

const SECRET = "whsec_c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ=";

/** An AWS SDK ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure: it carries the item. */
function conditionFailedWithItem(): Error {
  return Object.assign(new Error("The conditional request failed"), {
    name: "ConditionalCheckFailedException",
    $metadata: { httpStatusCode: 400 },
    Item: { PK: "CUSTOMER#1", secret: SECRET, headers: { authorization: `Bearer ${SECRET}` } },
  });
}

/** The JSON log lines written until the returned function is called. */
function captureLogs(): () => Record<string, unknown>[] {
  const stop = captureOutput();
  return () =>
    stop()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the one error shape of the logs", () => {
  it("keeps name, code, message, stack and cause, and none of an error's other properties", () => {
    const error = new DependencyError("dynamodb", "could not write", { cause: conditionFailedWithItem() });
    const logged = loggedError(error);
    expect(logged).toMatchObject({
      name: "DependencyError",
      code: "DEPENDENCY_FAILED",
      message: "dynamodb: could not write",
      cause: { name: "ConditionalCheckFailedException", message: "The conditional request failed" },
    });
    expect(logged.stack).toContain("DependencyError");
    expect(Object.keys(logged).sort()).toEqual(["cause", "code", "message", "name", "stack"]);
    expect(JSON.stringify(logged)).not.toContain(SECRET);
  });

  it("logs a thrown non-error by its type only, and stops at a cycle of causes", () => {
    expect(loggedError(SECRET)).toEqual({ name: "string", message: "non-error thrown (string)" });
    expect(loggedError({ secret: SECRET })).toEqual({ name: "object", message: "non-error thrown (object)" });
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    a.cause = b;
    expect(JSON.stringify(loggedError(a))).toContain("further causes left out");
  });

  it("is what a logger from createLogger writes, whether the error is an attribute or the extra argument", () => {
    const logger = createLogger("test");
    const logs = captureLogs();
    logger.error("as an attribute", { error: conditionFailedWithItem(), delivery_id: "d1" });
    logger.error("as the extra argument", conditionFailedWithItem());
    logger.warn("nested", { outcome: { error: conditionFailedWithItem() } });
    const lines = logs();
    expect(lines).toHaveLength(3);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(JSON.stringify(lines)).not.toContain("$metadata");
    for (const line of lines) {
      const error = (line.error ?? (line.outcome as { error: unknown }).error) as Record<string, unknown>;
      expect(Object.keys(error).sort()).toEqual(["message", "name", "stack"]);
      expect(error.name).toBe("ConditionalCheckFailedException");
    }
    expect(lines[0]).toMatchObject({
      level: "ERROR",
      message: "as an attribute",
      service: "test",
      delivery_id: "d1",
    });
  });
});

describe("the local stack's readable log line", () => {
  it("shows an error as name, code and message, with its cause", () => {
    const line = JSON.stringify({
      level: "ERROR",
      message: "delivery failed on our side",
      timestamp: "2026-12-01T09:17:41.250Z",
      service: "delivery",
      error: loggedError(new DependencyError("sqs", "timed out", { cause: new Error("socket hang up") })),
    });
    expect(renderLogLine(line)).toBe(
      '09:17:41.250 ERROR delivery     delivery failed on our side error="DependencyError [DEPENDENCY_FAILED]: sqs: timed out <- Error: socket hang up"\n',
    );
  });
});

describe("instrumented function handlers (Powertools without middy)", () => {
  it("add the Lambda context to the invocation's log lines, publish its metrics even when it throws, and drop its keys", async () => {
    const logger = createLogger("test");
    const metrics = createMetrics("test");
    const handler = instrumented(
      async (event: { fail: boolean }) => {
        logger.appendKeys({ customer_id: "c1" });
        metrics.addMetric("TestAttempts", MetricUnit.Count, 1);
        logger.info("inside");
        if (event.fail) throw new Error("boom");
        return "ok";
      },
      logger,
      metrics,
      { resetKeys: true },
    );
    const context = lambdaContext("test");
    const logs = captureLogs();
    const answered = await handler({ fail: false }, context);
    const failed = await handler({ fail: true }, context).catch((error: unknown) => error);
    logger.info("between invocations");
    const lines = logs();
    expect(answered).toBe("ok");
    expect((failed as Error).message).toBe("boom");
    const inside = lines.filter((line) => line.message === "inside");
    expect(inside).toHaveLength(2);
    for (const line of inside) {
      expect(line).toMatchObject({ function_request_id: context.awsRequestId, customer_id: "c1" });
    }
    // One EMF document per invocation, the failed one included.
    const emf = lines.filter((line) => "_aws" in line);
    expect(emf.map((line) => line.TestAttempts)).toEqual([1, 1]);
    expect(lines.find((line) => line.message === "between invocations")).not.toHaveProperty("customer_id");
  });

  it("write nothing after an invocation that stored no metrics (no Powertools warning per invocation)", async () => {
    const logger = createLogger("test");
    const metrics = createMetrics("test");
    const handler = instrumented(async () => "ok", logger, metrics);
    const stop = captureOutput();
    await handler({}, lambdaContext("test"));
    await handler({}, lambdaContext("test"));
    expect(stop()).toBe("");
  });
});
