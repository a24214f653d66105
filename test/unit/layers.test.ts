import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { cruise, type ICruiseResult } from "dependency-cruiser";
import { describe, expect, it } from "vitest";

/**
 * The layer rule of shared/README.md is dependency-cruiser's (.dependency-cruiser.cjs, run by
 * `npm run lint`). The real tree is checked there; this test checks that the rule set still reports
 * each kind of crossing, so a rule weakened by an edit (a wrong path pattern catches nothing and
 * passes every lint) fails here.
 */
const REPO = path.resolve(import.meta.dirname, "../..");
const rules = createRequire(import.meta.url)(path.join(REPO, ".dependency-cruiser.cjs")) as {
  forbidden: unknown[];
  options: Record<string, unknown>;
};

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "layers-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

async function violations(dir: string): Promise<string[]> {
  const { output } = await cruise(["shared", "scripts"], {
    ...rules.options,
    baseDir: dir,
    ruleSet: { forbidden: rules.forbidden },
    validate: true,
  } as never);
  const result = output as ICruiseResult;
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
}

describe("shared/ layers (shared/README.md, .dependency-cruiser.cjs)", () => {
  it("reports each kind of crossing, naming the rule and both files", async () => {
    const dir = tree({
      "shared/domain/x.ts":
        'import { c } from "../config.ts";\nimport { readFileSync } from "node:fs";\nexport const x = [c, readFileSync];\n',
      "shared/domain/ok.ts": 'import { createHash } from "node:crypto";\nexport const ok = createHash;\n',
      "shared/config.ts": 'import { s } from "./services/s.ts";\nexport const c = s;\n',
      "shared/adapters/a.ts": 'import { s } from "../services/s.ts";\nexport const a = s;\n',
      "shared/services/s.ts":
        'import type { A } from "../adapters/a.ts";\nimport { http } from "node:http";\nexport const s: A | typeof http = 1;\n',
      "shared/services/fine.ts":
        'import type { Port } from "../domain/ok.ts";\nimport { randomUUID } from "node:crypto";\nexport const f: Port = randomUUID;\n',
      "shared/api/r.ts":
        'import { a } from "../adapters/a.ts";\nimport type { A } from "../adapters/a.ts";\nexport const r: A = a;\n',
      "shared/api/h.ts": 'import { main } from "../../scripts/tool.ts";\nexport const h = main;\n',
      "scripts/tool.ts": 'import { helper } from "../test/support/h.ts";\nexport const main = helper;\n',
      "scripts/ops.ts":
        'import { LOCAL_HOST } from "../local/settings.ts";\nexport const host = LOCAL_HOST;\n',
      "local/settings.ts": 'import { main } from "../scripts/tool.ts";\nexport const LOCAL_HOST = main;\n',
      "test/support/h.ts": "export const helper = 1;\n",
    });
    expect(await violations(dir)).toEqual([
      "adapters-below-services: shared/adapters/a.ts → shared/services/s.ts",
      "api-names-adapter-types-only: shared/api/r.ts → shared/adapters/a.ts",
      "domain-is-pure: shared/domain/x.ts → shared/config.ts",
      "domain-packages: shared/domain/x.ts → fs",
      "operator-tools-without-emulators: scripts/ops.ts → local/settings.ts",
      "services-packages: shared/services/s.ts → http",
      "services-use-ports: shared/services/s.ts → shared/adapters/a.ts",
      "settings-read-the-domain-only: shared/config.ts → shared/services/s.ts",
      "shared-stays-inside: shared/api/h.ts → scripts/tool.ts",
      "tools-without-tests: scripts/tool.ts → test/support/h.ts",
    ]);
  });
});
