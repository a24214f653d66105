import * as z from "zod/mini";

/**
 * Classic zod's `.meta(...)` for zod/mini schemas (the functions load zod/mini: a third of the bundle
 * and of the schema set-up at cold start, docs/decisions.md): a copy of `schema` with `meta` in zod's
 * global registry, where the OpenAPI generator reads descriptions, examples and component ids.
 */
export function withMeta<S extends z.ZodMiniType>(schema: S, meta: z.core.GlobalMeta): S {
  const copy = schema.clone() as S;
  z.globalRegistry.add(copy, meta);
  return copy;
}
