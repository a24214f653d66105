/**
 * The contract between the authorizer and the API function. API Gateway (HTTP API, REQUEST
 * authorizer, payload 2.0, simple responses) copies the authorizer's `context` to the API event as
 * `requestContext.authorizer.lambda`. The authorizer allows every request and says in the context who
 * the caller is or why it is not anyone, so that the API itself answers 401 with the §5 error body
 * (API Gateway's own deny would answer 403 with a body of its own). docs/api.md, "Authentication".
 */
import type { AuthenticationResult } from "../access-keys/service.ts";

export const AUTH_ERROR_CODES = [
  "AUTHENTICATION_REQUIRED",
  "INVALID_CREDENTIALS",
  "AUTHORIZER_FAILED",
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

/** `null`: the authorizer itself failed (DynamoDB unreachable); the API answers 500, not 401. */
export function authorizerContextFor(result: AuthenticationResult | null): AuthorizerContext {
  if (result === null) return { auth_error: "AUTHORIZER_FAILED" };
  if (result.kind === "authenticated") return { customer_id: result.customerId, key_id: result.keyId };
  return { auth_error: result.reason === "missing" ? "AUTHENTICATION_REQUIRED" : "INVALID_CREDENTIALS" };
}
