import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { median } from "./delivery.ts";

const run = promisify(execFile);

export interface FunctionColdStart {
  bundle_kb: number;
  source_map_kb: number;
  init_ms: number;
  init_ms_runs: number[];
}

export interface ColdStartResult {
  max_bundle_kb: number;
  max_init_ms: number;
  functions: Record<string, FunctionColdStart>;
  runs: number;
  method: string;
}

/** Values that satisfy the config schema where the template has CloudFormation references. */
const PLACEHOLDERS: Record<string, string> = {
  TABLE_NAME: "voipbin-webhooks",
  DELIVERY_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/voipbin-webhooks-delivery",
  UNROUTABLE_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/voipbin-webhooks-unroutable",
  EVENT_BUS_NAME: "voipbin-events",
};

interface TemplateFunction {
  name: string;
  assetDir: string;
  environment: Record<string, string>;
}

/** The Lambda functions of every synthesized stack template in `cdkOut`, with their bundled asset. */
export function functionsInCloudAssembly(cdkOut: string): TemplateFunction[] {
  const found: TemplateFunction[] = [];
  for (const file of readdirSync(cdkOut).filter((f) => f.endsWith(".template.json"))) {
    const template = JSON.parse(readFileSync(path.join(cdkOut, file), "utf8")) as {
      Resources: Record<
        string,
        { Type: string; Metadata?: Record<string, unknown>; Properties?: Record<string, unknown> }
      >;
    };
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== "AWS::Lambda::Function") continue;
      const assetPath = resource.Metadata?.["aws:asset:path"];
      const variables = ((
        resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined
      )?.Variables ?? {}) as Record<string, unknown>;
      const name =
        typeof variables.POWERTOOLS_SERVICE_NAME === "string" ? variables.POWERTOOLS_SERVICE_NAME : undefined;
      if (typeof assetPath !== "string" || name === undefined) continue; // CDK's own helper functions
      const environment: Record<string, string> = {};
      for (const [key, value] of Object.entries(variables)) {
        if (typeof value === "string") environment[key] = value;
        else if (PLACEHOLDERS[key]) environment[key] = PLACEHOLDERS[key];
      }
      found.push({
        name,
        assetDir: path.join(cdkOut, assetPath),
        environment: { ...PLACEHOLDERS, ...environment },
      });
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

const IMPORT_PROBE = `
const started = performance.now();
await import(process.argv[1]);
process.stdout.write(String(performance.now() - started));
`;

/**
 * For every function bundled by the CDK build: the bundle's size and the time a fresh Node process
 * takes to import it (the module scope: config validation, client creation), with the function's
 * own environment from the template — the part of a Lambda cold start that our code decides.
 */
export async function benchColdStart(options: {
  cdkOut: string;
  runs: number;
  progress: (message: string) => void;
}): Promise<ColdStartResult> {
  const functions: Record<string, FunctionColdStart> = {};
  for (const fn of functionsInCloudAssembly(options.cdkOut)) {
    const bundle = ["index.mjs", "index.js"].map((f) => path.join(fn.assetDir, f)).find((f) => existsSync(f));
    if (!bundle) throw new Error(`no bundle in ${fn.assetDir}`);
    const map = `${bundle}.map`;
    const runs: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      options.progress(`cold start: ${fn.name} ${i + 1}/${options.runs}`);
      const { stdout } = await run(
        process.execPath,
        ["--input-type=module", "-e", IMPORT_PROBE, pathToFileURL(bundle).href],
        {
          env: {
            PATH: process.env.PATH ?? "",
            AWS_REGION: "us-east-1",
            AWS_ACCESS_KEY_ID: "cold",
            AWS_SECRET_ACCESS_KEY: "cold",
            POWERTOOLS_METRICS_DISABLED: "true",
            ...fn.environment,
          },
        },
      );
      runs.push(Number(stdout));
    }
    functions[fn.name] = {
      bundle_kb: Math.round((statSync(bundle).size / 1024) * 10) / 10,
      source_map_kb: existsSync(map) ? Math.round((statSync(map).size / 1024) * 10) / 10 : 0,
      init_ms: Math.round(median(runs) * 10) / 10,
      init_ms_runs: runs.map((r) => Math.round(r * 10) / 10),
    };
  }
  const values = Object.values(functions);
  if (values.length === 0) throw new Error(`no function bundles found in ${options.cdkOut}`);
  return {
    max_bundle_kb: Math.max(...values.map((f) => f.bundle_kb)),
    max_init_ms: Math.max(...values.map((f) => f.init_ms)),
    functions,
    runs: options.runs,
    method:
      "bundles from the CDK build (cdk synth); median time to import each in a fresh Node process with the function's environment",
  };
}
