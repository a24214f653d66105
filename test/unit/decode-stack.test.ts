import { SourceMap } from "node:module";
import { buildSync } from "esbuild";
import { describe, expect, it } from "vitest";
import { decodeStackTrace } from "../../scripts/decode-stack.ts";

/** A minified bundle of one source file, with its map, as the CDK build makes them. */
function bundleWithMap() {
  const result = buildSync({
    stdin: {
      contents: 'export function fails() {\n  const reason = "bad";\n  throw new Error(reason);\n}\n',
      sourcefile: "shared/services/example.ts",
      loader: "ts",
    },
    bundle: true,
    minify: true,
    sourcemap: "external",
    sourcesContent: false,
    format: "esm",
    outfile: "/var/task/index.mjs",
    write: false,
  });
  const code = result.outputFiles.find((f) => f.path.endsWith(".mjs"))?.text ?? "";
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"))?.text ?? "";
  return { code, map: new SourceMap(JSON.parse(map)) };
}

describe("decode-stack", () => {
  it("rewrites bundle positions as source positions and leaves other frames alone", () => {
    const { code, map } = bundleWithMap();
    const column = code.indexOf("throw") + 1;
    const trace = [
      "Error: bad",
      `    at o (file:///var/task/index.mjs:1:${column})`,
      `    at file:///var/task/index.mjs:1:${column}`,
      "    at ModuleJob.run (node:internal/modules/esm/module_job:561:25)",
    ].join("\n");
    expect(decodeStackTrace(trace, map).split("\n")).toEqual([
      "Error: bad",
      "    at o (shared/services/example.ts:3:3)",
      "    at shared/services/example.ts:3:3",
      "    at ModuleJob.run (node:internal/modules/esm/module_job:561:25)",
    ]);
  });

  it("keeps a position the map does not cover", () => {
    const { map } = bundleWithMap();
    const trace = "    at x (file:///var/task/index.mjs:99:1)";
    expect(decodeStackTrace(trace, map)).toBe(trace);
  });
});
