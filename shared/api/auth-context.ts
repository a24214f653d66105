/**
 * The contract between the authorizer and the API function. API Gateway (HTTP API, REQUEST
 * authorizer, payload 2.0, simple responses) copies the authorizer's `context` to the API event as
 * `requestContext.authorizer.lambda`. The authorizer allows every request and says in the context who
 * the caller is or why it is not anyone, so that the API itself answers 401 with the §5 error body
 * (API Gateway's own deny would answer 403 with a body of its own). docs/api.md, "Authentication".
 */
import type { AuthenticationResult } from "../services/access-keys.ts";

export const AUTH_ERROR_CODES = [
  "AUTHENTICATION_REQUIRED",
  "INVALID_CREDENTIALS",
  "AUTHORIZER_FAILED",
  "AUTHORIZER_THROTTLED",
] as const;
export type AuthErrorCode = (typeof AUTH_ERROR_CODES)[number];

export type AuthorizerContext =
  | { readonly customer_id: string; readonly key_id: string }
  | { readonly auth_error: AuthErrorCode };

/** What the authorizer returns to API Gateway: always allowed; the API function enforces the context. */
export interface AuthorizerResponse {
  readonly isAuthorized: true;
  readonly context: AuthorizerContext;
}

/** The authorizer could not judge the key: the lookup was throttled (429) or failed otherwise (500). */
export type AuthorizerFailure = { readonly kind: "failed"; readonly throttled: boolean };

/** A failure is never a 401: the key may be fine, so the API answers 429 or 500 and the caller retries. */
export function authorizerContextFor(result: AuthenticationResult | AuthorizerFailure): AuthorizerContext {
  if (result.kind === "failed") {
    return { auth_error: result.throttled ? "AUTHORIZER_THROTTLED" : "AUTHORIZER_FAILED" };
  }
  if (result.kind === "authenticated") return { customer_id: result.customerId, key_id: result.keyId };
  return { auth_error: result.reason === "missing" ? "AUTHENTICATION_REQUIRED" : "INVALID_CREDENTIALS" };
}
