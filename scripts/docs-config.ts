/**
 * Writes docs/configuration.md from infra/settings.ts and shared/config.ts (scripts/configuration-doc.ts).
 *
 *   npm run docs:config              regenerate docs/configuration.md
 *   npm run docs:config -- --check   exit 0 when it is up to date, 1 when not (CI)
 */
import path from "node:path";
import { renderConfigurationDoc } from "./configuration-doc.ts";
import { runGeneratedFileCli } from "./generated-file.ts";

runGeneratedFileCli({
  script: "docs:config",
  defaultPath: path.resolve(import.meta.dirname, "..", "docs", "configuration.md"),
  source: "infra/settings.ts and shared/config.ts",
  render: renderConfigurationDoc,
});
