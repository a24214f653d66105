import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The layer rule of shared/README.md, enforced: each folder of shared/ may import only what its row
 * allows. A new import that crosses a layer fails here with the file, the import and the rule it breaks.
 */
const SHARED_DIR = path.resolve(import.meta.dirname, "../../shared");

type Layer = "domain" | "services" | "adapters" | "api" | "settings" | "root";

const LOCAL_LAYERS_ALLOWED: Record<Layer, readonly Layer[]> = {
  domain: ["domain"],
  settings: ["domain", "settings"],
  adapters: ["domain", "settings", "adapters"],
  services: ["domain", "settings", "services", "adapters"],
  api: ["domain", "settings", "services", "api"],
  root: ["domain", "settings", "services", "adapters", "api", "root"],
};

/** Packages each layer may import (prefix match); anything else is refused. */
const PACKAGES_ALLOWED: Record<Layer, readonly string[] | "any"> = {
  domain: ["zod", "standardwebhooks", "ipaddr.js", "node:crypto"],
  services: ["zod", "node:crypto"],
  adapters: "any",
  api: ["zod", "zod-openapi", "aws-lambda", "node:crypto"],
  settings: ["zod", "ipaddr.js"],
  root: "any",
};

/** The validated config and the resource facts: values every layer but the domain may read. */
const SETTINGS_FILES = ["config.ts", "resources.ts"];

function layerOf(SHARED: string, file: string): Layer {
  const rel = path.relative(SHARED, file);
  if (SETTINGS_FILES.includes(rel)) return "settings";
  const top = rel.split(path.sep)[0];
  return top === "domain" || top === "services" || top === "adapters" || top === "api" ? top : "root";
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

interface Import {
  readonly specifier: string;
  readonly typeOnly: boolean;
}

function importsOf(source: string): Import[] {
  const found: Import[] = [];
  const re =
    /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of source.matchAll(re)) {
    const specifier = m[3] ?? m[4];
    if (specifier) found.push({ specifier, typeOnly: Boolean(m[2]) });
  }
  return found;
}

function layerViolations(SHARED: string = SHARED_DIR): string[] {
  const problems: string[] = [];
  for (const file of filesUnder(SHARED)) {
    const layer = layerOf(SHARED, file);
    const rel = path.relative(SHARED, file);
    for (const { specifier, typeOnly } of importsOf(readFileSync(file, "utf8"))) {
      if (specifier.startsWith(".") || specifier.startsWith("#shared/")) {
        const target = specifier.startsWith(".")
          ? path.resolve(path.dirname(file), specifier)
          : path.join(SHARED, specifier.slice("#shared/".length));
        if (!target.startsWith(SHARED + path.sep)) {
          problems.push(`${rel}: imports ${specifier}, outside shared/`);
          continue;
        }
        const targetLayer = layerOf(SHARED, target);
        // The HTTP edge may name an adapter's types (a record shape it renders) but never call one.
        const allowed =
          LOCAL_LAYERS_ALLOWED[layer].includes(targetLayer) ||
          (layer === "api" && targetLayer === "adapters" && typeOnly);
        if (!allowed) problems.push(`${rel} (${layer}): imports ${specifier} (${targetLayer})`);
      } else {
        const packages = PACKAGES_ALLOWED[layer];
        if (packages === "any" || typeOnly) {
          if (
            packages !== "any" &&
            layer === "domain" &&
            /^(@aws-sdk|aws-lambda|@aws-lambda-powertools)/.test(specifier)
          )
            problems.push(`${rel} (${layer}): imports types of ${specifier}`);
          continue;
        }
        if (!packages.some((p) => specifier === p || specifier.startsWith(`${p}/`)))
          problems.push(`${rel} (${layer}): imports package ${specifier}`);
      }
    }
  }
  return problems;
}

describe("shared/ layers (shared/README.md)", () => {
  it("every import in shared/ follows the layer rule", () => {
    expect(layerViolations()).toEqual([]);
  });

  it("the check reports each kind of crossing", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "layers-"));
    mkdirSync(path.join(dir, "domain"));
    mkdirSync(path.join(dir, "api"));
    writeFileSync(
      path.join(dir, "domain", "bad.ts"),
      'import { SQSClient } from "@aws-sdk/client-sqs";\nimport { c } from "../config.ts";\n',
    );
    writeFileSync(
      path.join(dir, "api", "bad.ts"),
      'import { repo } from "../adapters/x.ts";\nimport type { R } from "../adapters/x.ts";\n',
    );
    expect(layerViolations(dir).sort()).toEqual([
      "api/bad.ts (api): imports ../adapters/x.ts (adapters)",
      "domain/bad.ts (domain): imports ../config.ts (settings)",
      "domain/bad.ts (domain): imports package @aws-sdk/client-sqs",
    ]);
  });

  it("parses import forms", () => {
    expect(importsOf('import { SQSClient } from "@aws-sdk/client-sqs";\n')).toEqual([
      { specifier: "@aws-sdk/client-sqs", typeOnly: false },
    ]);
    expect(importsOf('import type { X } from "../adapters/x.ts";')).toEqual([
      { specifier: "../adapters/x.ts", typeOnly: true },
    ]);
    expect(importsOf('export { a } from "./a.ts";\nconst m = await import("node:http");')).toEqual([
      { specifier: "./a.ts", typeOnly: false },
      { specifier: "node:http", typeOnly: false },
    ]);
  });
});

describe("tools outside shared/", () => {
  const REPO = path.resolve(import.meta.dirname, "../..");

  it("bench/ and local/ never import the tests' support code (the tools must work without test/)", () => {
    const problems: string[] = [];
    for (const dir of ["bench", "local", "scripts"]) {
      for (const file of filesUnder(path.join(REPO, dir))) {
        for (const { specifier } of importsOf(readFileSync(file, "utf8"))) {
          const target = specifier.startsWith(".") ? path.resolve(path.dirname(file), specifier) : specifier;
          if (target.startsWith(path.join(REPO, "test") + path.sep))
            problems.push(`${path.relative(REPO, file)}: imports ${specifier}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
