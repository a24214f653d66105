/**
 * The API's one error shape (PRODUCT §5) and the one mapper from anything thrown to it. Messages are
 * written for customers; internals (stack traces, AWS error names, secrets) never reach a response.
 */
import { CodedError } from "../domain/errors.ts";
import type { PortalLinkRefusedError } from "../domain/portal/portal-link.ts";
import type { QuotaExceededError } from "../domain/quotas/quota.ts";
import type {
  ConcurrentModificationError,
  DeliveryNotRetryableError,
  InvalidInputError,
  ManagedSubscriptionError,
  ResourceNotFoundError,
  SubscriptionDeletedError,
  SubscriptionDisabledError,
  SubscriptionLimitReachedError,
} from "../domain/subscriptions/errors.ts";

export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details: readonly ErrorDetail[];
  };
}

/** Every code the API answers with, by status. Stable strings: customers branch on them. */
export const ERROR_CODES = {
  400: ["VALIDATION_FAILED", "MALFORMED_JSON"],
  401: [
    "AUTHENTICATION_REQUIRED",
    "INVALID_CREDENTIALS",
    "PORTAL_LINK_INVALID",
    "PORTAL_LINK_EXPIRED",
    "PORTAL_LINK_USED",
  ],
  404: ["NOT_FOUND"],
  405: ["METHOD_NOT_ALLOWED"],
  409: [
    "SUBSCRIPTION_LIMIT_REACHED",
    "SUBSCRIPTION_DISABLED",
    "SUBSCRIPTION_DELETED",
    "DELIVERY_NOT_RETRYABLE",
    "CONCURRENT_MODIFICATION",
    "MANAGED_SUBSCRIPTION",
  ],
  413: ["PAYLOAD_TOO_LARGE"],
  415: ["UNSUPPORTED_MEDIA_TYPE"],
  429: ["RATE_LIMITED", "QUOTA_EXCEEDED"],
  500: ["INTERNAL_ERROR"],
} as const;

export type ErrorStatus = keyof typeof ERROR_CODES;
export type ErrorCode = (typeof ERROR_CODES)[ErrorStatus][number];

/** An HTTP answer other than success, already in the §5 shape. */
export class ApiError extends CodedError {
  override readonly name = "ApiError";
  constructor(
    readonly status: ErrorStatus,
    readonly code: ErrorCode,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

const VALIDATION_FAILED_MESSAGE = "The request is not valid; see details.";

export const validationFailed = (details: readonly ErrorDetail[]) =>
  new ApiError(400, "VALIDATION_FAILED", VALIDATION_FAILED_MESSAGE, details);

export const authenticationRequired = () =>
  new ApiError(
    401,
    "AUTHENTICATION_REQUIRED",
    "Send an access key: `Authorization: Bearer <key>` or `?accesskey=<key>`.",
    [],
    { "www-authenticate": 'Bearer realm="voipbin-webhooks"' },
  );

export const invalidCredentials = () =>
  new ApiError(401, "INVALID_CREDENTIALS", "The access key is not valid, has expired or was revoked.", [], {
    "www-authenticate": 'Bearer realm="voipbin-webhooks", error="invalid_token"',
  });

export const internalError = () =>
  new ApiError(
    500,
    "INTERNAL_ERROR",
    "An internal error occurred. Try again later; if it persists, contact support.",
  );

// Names of AWS SDK errors that mean "slow down", from DynamoDB and SQS.
const THROTTLING_ERRORS = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "RequestThrottled",
  "KMSThrottlingException",
]);

/** An AWS SDK error that means "slow down" (DynamoDB, SQS): the caller gets 429, not 500. */
export function isThrottlingError(error: unknown): boolean {
  return error instanceof Error && THROTTLING_ERRORS.has(error.name);
}

export const rateLimited = () =>
  new ApiError(429, "RATE_LIMITED", "Too many requests right now; retry after a moment.", [], {
    "retry-after": "1",
  });

/** What the services refuse (domain/subscriptions/errors.ts): each code is also an API error code. */
type ServiceError =
  | InvalidInputError
  | ResourceNotFoundError
  | SubscriptionLimitReachedError
  | SubscriptionDisabledError
  | SubscriptionDeletedError
  | DeliveryNotRetryableError
  | ConcurrentModificationError
  | ManagedSubscriptionError
  | QuotaExceededError
  | PortalLinkRefusedError;

/** The status ERROR_CODES lists a code under. */
type StatusOf<C extends ErrorCode> = {
  [S in ErrorStatus]: C extends (typeof ERROR_CODES)[S][number] ? S : never;
}[ErrorStatus];

interface ServiceErrorAnswer<E extends ServiceError> {
  readonly status: StatusOf<E["code"]>;
  readonly message: (error: E) => string;
  readonly details?: (error: E) => readonly ErrorDetail[];
  readonly headers?: (error: E) => Readonly<Record<string, string>>;
}

/** A refusal whose message is written for the customer already, answered as a sentence. */
const asSentence = (error: ServiceError) => `${capitalize(error.message)}.`;

const portalLinkRefusal = (error: ServiceError) =>
  `${asSentence(error)} Ask your operator for a new link, or sign in with an access key.`;

/**
 * The answer to each service error, keyed by its stable code, which is also the code the customer
 * gets. Typed so that every service error has one entry, under the status ERROR_CODES lists it at.
 */
const SERVICE_ERROR_ANSWERS: { readonly [E in ServiceError as E["code"]]: ServiceErrorAnswer<E> } = {
  VALIDATION_FAILED: {
    status: 400,
    message: () => VALIDATION_FAILED_MESSAGE,
    details: (error) => error.problems,
  },
  NOT_FOUND: { status: 404, message: (error) => `No such ${error.resource}.` },
  SUBSCRIPTION_LIMIT_REACHED: { status: 409, message: asSentence },
  SUBSCRIPTION_DISABLED: { status: 409, message: asSentence },
  SUBSCRIPTION_DELETED: { status: 409, message: asSentence },
  DELIVERY_NOT_RETRYABLE: { status: 409, message: asSentence },
  CONCURRENT_MODIFICATION: { status: 409, message: asSentence },
  MANAGED_SUBSCRIPTION: { status: 409, message: asSentence },
  QUOTA_EXCEEDED: {
    status: 429,
    message: asSentence,
    headers: (error) => ({ "retry-after": String(error.retryAfterSeconds) }),
  },
  PORTAL_LINK_INVALID: { status: 401, message: portalLinkRefusal },
  PORTAL_LINK_EXPIRED: { status: 401, message: portalLinkRefusal },
  PORTAL_LINK_USED: { status: 401, message: portalLinkRefusal },
};

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof CodedError && Object.hasOwn(SERVICE_ERROR_ANSWERS, error.code);
}

/** The one mapping from anything a route can throw to the answer the customer gets. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isServiceError(error)) {
    const answer = SERVICE_ERROR_ANSWERS[error.code] as ServiceErrorAnswer<ServiceError>;
    return new ApiError(
      answer.status,
      error.code,
      answer.message(error),
      answer.details?.(error) ?? [],
      answer.headers?.(error) ?? {},
    );
  }
  if (isThrottlingError(error)) return rateLimited();
  return internalError();
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
