/**
 * Where a request carries its access key (PRODUCT §5): `Authorization: Bearer <key>`, or the
 * `accesskey` query parameter that VoIPBIN accepts today. Pure functions over headers and query,
 * shared by the authorizer and anything else that must read credentials the same way.
 */

export type PresentedCredentials =
  | { readonly kind: "none" }
  /** `key` may be malformed; judging it is authenticate's job. */
  | { readonly kind: "presented"; readonly key: string; readonly source: "header" | "query" };

/** The name of the query parameter that carries a key; removed before the API validates the query. */
export const ACCESS_KEY_QUERY_PARAMETER = "accesskey";

const BEARER = /^bearer(?:[ \t]+(.*))?$/i;

function headerValue(
  headers: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/**
 * A Bearer header wins over the query parameter. An Authorization header of another scheme
 * (`Basic …`) counts as presented-but-wrong, even when the query parameter carries a valid key
 * (docs/api.md): the caller learns its credentials were refused rather than that another key was
 * used, and a header the caller meant cannot be silently overridden.
 */
export function extractCredentials(
  headers: Readonly<Record<string, string | undefined>>,
  query: Readonly<Record<string, string | undefined>>,
): PresentedCredentials {
  const authorization = headerValue(headers, "authorization")?.trim();
  const bearer = authorization === undefined ? null : BEARER.exec(authorization);
  const bearerKey = bearer?.[1]?.trim();
  if (bearerKey !== undefined && bearerKey !== "") {
    return { kind: "presented", key: bearerKey, source: "header" };
  }
  if (authorization !== undefined && authorization !== "" && bearer === null) {
    return { kind: "presented", key: "", source: "header" };
  }
  const queryKey = query[ACCESS_KEY_QUERY_PARAMETER];
  if (queryKey !== undefined && queryKey !== "") {
    return { kind: "presented", key: queryKey, source: "query" };
  }
  return { kind: "none" };
}
