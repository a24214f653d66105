import { describe, expect, it } from "vitest";
import { ApiError, ERROR_CODES, toApiError } from "#shared/api/errors.ts";
import { CodedError, DependencyError } from "#shared/domain/errors.ts";
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
