/**
 * Writes portal/src/api-types.ts: the API's schemas (docs/openapi.json, `components.schemas`) as
 * TypeScript types for the portal, so the portal's view of an answer cannot drift from the API's
 * document. json-schema-to-typescript compiles them (an OpenAPI 3.1 schema is JSON Schema); Biome
 * formats the result as it formats every other file. `--check` writes nothing and exits 1 when the
 * committed file differs (CI runs it after `openapi:check`, which keeps the document itself true).
 *
 *   npm run portal:types           regenerate portal/src/api-types.ts
 *   npm run portal:types:check     exit 0 when it is up to date, 1 when not
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { compile, type JSONSchema } from "json-schema-to-typescript";
import { runGeneratedFileCli } from "./generated-file.ts";

const REPO = path.resolve(import.meta.dirname, "..");
const TARGET = path.join(REPO, "portal", "src", "api-types.ts");
const BIOME = path.join(REPO, "node_modules", ".bin", "biome");

const BANNER = `/**
 * Generated from docs/openapi.json by \`npm run portal:types\` (scripts/portal-types.ts): do not edit.
 * One type per schema of the API's document; portal/src/api.ts names the ones the portal reads.
 */`;

async function renderPortalTypes(): Promise<string> {
  const document = JSON.parse(readFileSync(path.join(REPO, "docs", "openapi.json"), "utf8")) as {
    components: { schemas: Record<string, unknown> };
  };
  // The document's references point into components; as one JSON Schema they point into definitions.
  const definitions = JSON.parse(
    JSON.stringify(document.components.schemas).replaceAll('"#/components/schemas/', '"#/definitions/'),
  ) as Record<string, JSONSchema>;
  const root: JSONSchema = {
    type: "object",
    additionalProperties: false,
    properties: Object.fromEntries(
      Object.keys(definitions).map((name) => [name, { $ref: `#/definitions/${name}` }]),
    ),
    definitions,
  };
  const compiled = await compile(root, "ApiSchemas", {
    bannerComment: BANNER,
    declareExternallyReferenced: true,
    additionalProperties: false,
    format: false,
  });
  return execFileSync(BIOME, ["format", `--stdin-file-path=${TARGET}`], {
    input: compiled,
    encoding: "utf8",
  });
}

runGeneratedFileCli({
  script: "portal:types",
  defaultPath: TARGET,
  source: "docs/openapi.json (components.schemas)",
  render: renderPortalTypes,
});
