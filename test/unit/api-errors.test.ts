import { describe, expect, it } from "vitest";
import { ApiError, ERROR_CODES, toApiError } from "#shared/api/errors.ts";
import { CodedError, DependencyError } from "#shared/domain/errors.ts";
import { PortalLinkRefusedError } from "#shared/domain/portal/portal-link.ts";
import { QuotaExceededError } from "#shared/domain/quotas/quota.ts";
import {
  ConcurrentModificationError,
  DeliveryNotRetryableError,
  InvalidInputError,
  ResourceNotFoundError,
  SubscriptionDeletedError,
  SubscriptionDisabledError,
  SubscriptionLimitReachedError,
} from "#shared/domain/subscriptions/errors.ts";

const statusOf = (code: string) =>
  Object.entries(ERROR_CODES).find(([, codes]) => (codes as readonly string[]).includes(code))?.[0];

describe("the API's error table", () => {
  it.each([
    [
      new InvalidInputError([{ path: "url", message: "host does not resolve (ENOTFOUND)" }]),
      400,
      "VALIDATION_FAILED",
    ],
    [new ResourceNotFoundError("delivery"), 404, "NOT_FOUND"],
    [new SubscriptionLimitReachedError(100), 409, "SUBSCRIPTION_LIMIT_REACHED"],
    [new SubscriptionDisabledError(), 409, "SUBSCRIPTION_DISABLED"],
    [new SubscriptionDeletedError(), 409, "SUBSCRIPTION_DELETED"],
    [new DeliveryNotRetryableError(), 409, "DELIVERY_NOT_RETRYABLE"],
    [new ConcurrentModificationError("the secret"), 409, "CONCURRENT_MODIFICATION"],
  ])("answers %s with its own code, under the status ERROR_CODES lists", (error, status, code) => {
    const answer = toApiError(error);
    expect(error.code).toBe(code);
    expect(answer).toBeInstanceOf(ApiError);
    expect([answer.status, answer.code]).toEqual([status, code]);
    expect(String(answer.status)).toBe(statusOf(code));
  });

  it("keeps the customer's messages and the problems of an invalid input", () => {
    expect(toApiError(new ResourceNotFoundError("subscription")).toBody()).toEqual({
      error: { code: "NOT_FOUND", message: "No such subscription.", details: [] },
    });
    expect(toApiError(new SubscriptionLimitReachedError(3)).message).toBe(
      "A customer may have at most 3 subscriptions; delete one first.",
    );
    const problems = [
      { path: "url", message: "host is or resolves to a blocked address" },
      { path: "headers.x-token", message: "too long" },
    ];
    expect(toApiError(new InvalidInputError(problems)).details).toEqual(problems);
  });

  it("answers 500 for any other error, coded or not, even one whose code looks like an API code", () => {
    class LookalikeError extends Error {
      readonly code = "NOT_FOUND";
    }
    class OtherCodedError extends CodedError {
      readonly code = "SOMETHING_ELSE";
    }
    for (const error of [
      new DependencyError("dynamodb", "boom"),
      new LookalikeError("x"),
      new OtherCodedError("y"),
      new Error("z"),
      "a string",
    ]) {
      expect(toApiError(error).code).toBe("INTERNAL_ERROR");
    }
  });

  it("answers 429 for an AWS throttling error", () => {
    const throttled = Object.assign(new Error("slow down"), { name: "ThrottlingException" });
    expect(toApiError(throttled)).toMatchObject({ status: 429, code: "RATE_LIMITED" });
  });
});

/** The whole answer a client gets (status, body, headers), as a mutation run over shared/ asked for. */
describe("the API's error answers, whole", () => {
  const whole = (error: ApiError) => ({ status: error.status, body: error.toBody(), headers: error.headers });

  it("tells a client over its quota when to retry, in a sentence", () => {
    expect(
      whole(toApiError(new QuotaExceededError("test_event", { limit: 10, windowSeconds: 60 }, 42))),
    ).toEqual({
      status: 429,
      body: {
        error: {
          code: "QUOTA_EXCEEDED",
          message: "Quota exceeded: at most 10 test events per minute; retry after 42 s.",
          details: [],
        },
      },
      headers: { "retry-after": "42" },
    });
  });

  it("tells a portal visitor with a refused link what to do", () => {
    expect(whole(toApiError(new PortalLinkRefusedError("expired")))).toEqual({
      status: 401,
      body: {
        error: {
          code: "PORTAL_LINK_EXPIRED",
          message:
            "This portal link has expired. Ask your operator for a new link, or sign in with an access key.",
          details: [],
        },
      },
      headers: {},
    });
  });

  it("answers an invalid input with the general message and every problem", () => {
    const problems = [{ path: "url", message: "must not be empty" }];
    expect(toApiError(new InvalidInputError(problems)).toBody()).toEqual({
      error: {
        code: "VALIDATION_FAILED",
        message: "The request is not valid; see details.",
        details: problems,
      },
    });
  });

  it("answers every AWS throttling error with 429 and Retry-After: 1, anything else with a 500", () => {
    for (const name of [
      "ProvisionedThroughputExceededException",
      "ThrottlingException",
      "RequestLimitExceeded",
      "TooManyRequestsException",
      "RequestThrottled",
      "KMSThrottlingException",
    ]) {
      const error = Object.assign(new Error("slow down"), { name });
      expect(whole(toApiError(error)), name).toEqual({
        status: 429,
        body: {
          error: {
            code: "RATE_LIMITED",
            message: "Too many requests right now; retry after a moment.",
            details: [],
          },
        },
        headers: { "retry-after": "1" },
      });
    }
    expect(whole(toApiError({ name: "ThrottlingException" }))).toEqual({
      status: 500,
      body: {
        error: {
          code: "INTERNAL_ERROR",
          message: "An internal error occurred. Try again later; if it persists, contact support.",
          details: [],
        },
      },
      headers: {},
    });
  });
});
