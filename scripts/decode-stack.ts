/**
 * `npm run decode-stack -- <function | map> [file]`: rewrites the bundle positions of a stack trace
 * (`…/index.mjs:1:23456`) as source positions (`shared/services/delivery/deliver.ts:120:7`). Function
 * names stay minified (a map names identifiers at positions, not the function a frame is in); the
 * positions are what matters.
 *
 * The functions run without `--enable-source-maps` (it cost 20–25 ms of every cold start); their
 * source maps ship beside the bundle, so a trace from the logs is decoded here, offline, with the map
 * of the very bundle that logged it: `<function>` takes it from cdk.out (a `cdk synth` of the deployed
 * commit), a path takes an `index.mjs.map` (e.g. from the deployed code package, docs/deploy.md).
 * Reads the trace from `file`, or from stdin.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";
import path from "node:path";
import { parseCommandLine, usageFailure } from "./lib/cli.ts";

const USAGE = `Usage: npm run decode-stack -- <function | path/to/index.mjs.map | asset dir> [trace file]

  <function>   router, delivery, api or authorizer: the map of its bundle in cdk.out
               (run \`npm run synth\` on the commit that is deployed first)
  [trace file] the logged stack trace (the "stack" of an error log line); stdin when omitted
  --cdk-out    the cloud assembly to look in (default: cdk.out)`;

/** A frame's bundle position: `index.mjs:LINE:COLUMN` (file URL or path, with or without parentheses). */
const BUNDLE_POSITION = /((?:file:\/\/)?[^\s()]*index\.m?js):(\d+):(\d+)/g;

export interface DecodedPosition {
  readonly source: string;
  readonly line: number;
  readonly column: number;
}

/**
 * A source as a path in the repository: the map names sources relative to where the bundle was built
 * (`../../shared/config.ts` from cdk.out/asset.…/, longer from elsewhere).
 */
function repositoryPath(source: string): string {
  const file = source.startsWith("file://") ? source.slice("file://".length) : source;
  const found = /(?:^|\/)((?:shared|functions|handlers|node_modules)\/.*)$/.exec(file);
  return found?.[1] ?? file.replace(/^(\.\.\/)+/, "");
}

/** The source position of a 1-based bundle position, or undefined where the map has none. */
export function decodePosition(map: SourceMap, line: number, column: number): DecodedPosition | undefined {
  // findEntry is 0-based and answers the nearest mapping at or before the position, even one on an
  // earlier line: only a mapping on the frame's own line says where the frame is.
  const entry = map.findEntry(line - 1, column - 1);
  if (!("originalSource" in entry) || entry.generatedLine !== line - 1) return undefined;
  return {
    source: repositoryPath(entry.originalSource),
    line: entry.originalLine + 1,
    column: entry.originalColumn + 1,
  };
}

/** The trace with every bundle position that the map knows replaced by its source position. */
export function decodeStackTrace(trace: string, map: SourceMap): string {
  return trace.replace(BUNDLE_POSITION, (whole, _file: string, line: string, column: string) => {
    const decoded = decodePosition(map, Number(line), Number(column));
    if (!decoded) return whole;
    return `${decoded.source}:${decoded.line}:${decoded.column}`;
  });
}

/** The map file for a function name (its asset in cdk.out), an asset directory, or a map path. */
export function resolveMapFile(target: string, cdkOut: string): string {
  if (existsSync(target)) {
    const file = statSync(target).isDirectory() ? path.join(target, "index.mjs.map") : target;
    if (!existsSync(file)) throw new Error(`no index.mjs.map in ${target}`);
    return file;
  }
  if (!existsSync(cdkOut)) throw new Error(`${cdkOut} is missing: run \`npm run synth\` first`);
  for (const file of readdirSync(cdkOut).filter((f) => f.endsWith(".template.json"))) {
    const template = JSON.parse(readFileSync(path.join(cdkOut, file), "utf8")) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, unknown>; Properties?: unknown }>;
    };
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== "AWS::Lambda::Function") continue;
      const variables = (resource.Properties as { Environment?: { Variables?: Record<string, unknown> } })
        ?.Environment?.Variables;
      const asset = resource.Metadata?.["aws:asset:path"];
      if (variables?.POWERTOOLS_SERVICE_NAME === target && typeof asset === "string") {
        return path.join(cdkOut, asset, "index.mjs.map");
      }
    }
  }
  throw new Error(`no function ${JSON.stringify(target)} in ${cdkOut} (and no such file)`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const parseDecodeStackArgs = () =>
  parseCommandLine({
    allowPositionals: true,
    options: { "cdk-out": { type: "string", default: "cdk.out" }, help: { type: "boolean", short: "h" } },
  });

async function main(): Promise<number> {
  let commandLine: ReturnType<typeof parseDecodeStackArgs>;
  try {
    commandLine = parseDecodeStackArgs();
  } catch (error) {
    return usageFailure(error, USAGE);
  }
  const { values, positionals } = commandLine;
  const [target, traceFile] = positionals;
  if (values.help || target === undefined || positionals.length > 2) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const mapFile = resolveMapFile(target, values["cdk-out"] ?? "cdk.out");
  const map = new SourceMap(JSON.parse(readFileSync(mapFile, "utf8")) as SourceMapPayload);
  const trace = traceFile === undefined ? await readStdin() : readFileSync(traceFile, "utf8");
  process.stdout.write(decodeStackTrace(trace, map));
  return 0;
}

if (import.meta.main) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    },
  );
}
