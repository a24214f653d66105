/**
 * Writes docs/openapi.json from the API's route table and zod schemas (shared/api/openapi.ts), the
 * same document `GET /openapi.json` serves. `--check` writes nothing and exits 1 when the committed
 * file differs, so CI catches an API change whose document was not regenerated.
 *
 *   npm run openapi           regenerate docs/openapi.json
 *   npm run openapi:check     exit 0 when it is up to date, 1 when not
 */
import path from "node:path";
import { renderOpenApiDocument } from "#shared/api/openapi.ts";
import { runGeneratedFileCli } from "./generated-file.ts";

runGeneratedFileCli({
  script: "openapi",
  defaultPath: path.resolve(import.meta.dirname, "..", "docs", "openapi.json"),
  source: "shared/api (routes.ts, schemas.ts, openapi.ts)",
  render: renderOpenApiDocument,
});
