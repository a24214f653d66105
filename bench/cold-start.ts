import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { bundleContents } from "../infra/bundle-contents.ts";
import { median } from "./lib/stats.ts";

const run = promisify(execFile);

export interface FunctionColdStart {
  bundle_kb: number;
  source_map_kb: number;
  /** Median time to import the bundle in a fresh process. */
  init_ms: number;
  init_ms_runs: number[];
  /**
   * Median CPU time (user + system, every thread: V8 compiles on helper threads) of the same
   * imports: less moved by other processes on a shared machine than wall-clock.
   */
  init_cpu_ms?: number;
  memory_mb: number;
  /** KB in the minified bundle by package (esbuild metafile), every package of 2 KB or more, largest first. */
  packages_kb?: Record<string, number>;
}

/** One way of calling DynamoDB, built and loaded like a function's bundle (benchAwsClientPaths). */
export interface AwsClientPath {
  bundle_kb: number;
  /** Median time to import the bundle (client created at load, as the functions do). */
  init_ms: number;
  init_ms_runs: number[];
  /** This process's CPU per PutItem against a local endpoint that answers `{}` (its share included). */
  cpu_us_per_put_item: number;
}

export interface ColdStartResult {
  max_bundle_kb: number;
  max_init_ms: number;
  /** Median time to import an empty module the same way, in the same run (the floor of the method). */
  baseline_empty_module_ms: number;
  functions: Record<string, FunctionColdStart>;
  runs: number;
  node: string;
  method: string;
  /**
   * The lighter AWS client path the issue asked to weigh, measured in the same run: one PutItem
   * through SDK v3 (what the functions use) and through `aws4` signing over node:http.
   */
  aws_client_paths?: { sdk_v3: AwsClientPath; aws4: AwsClientPath; method: string };
}

/** Values that satisfy the config schema where the template has CloudFormation references. */
export const PLACEHOLDERS: Record<string, string> = {
  TABLE_NAME: "voipbin-webhooks",
  DELIVERIES_TABLE_NAME: "voipbin-webhooks-deliveries",
  DELIVERY_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/voipbin-webhooks-delivery",
  DELIVERY_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/voipbin-webhooks-delivery-dlq",
  DELIVERY_BACKSTOP_QUEUE_URL:
    "https://sqs.us-east-1.amazonaws.com/000000000000/voipbin-webhooks-delivery-backstop",
  UNROUTABLE_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/voipbin-webhooks-unroutable",
  EVENT_BUS_NAME: "voipbin-events",
};

export interface TemplateFunction {
  name: string;
  assetDir: string;
  environment: Record<string, string>;
  memoryMb: number;
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
      const memory = resource.Properties?.MemorySize;
      found.push({
        name,
        assetDir: path.join(cdkOut, assetPath),
        environment: { ...PLACEHOLDERS, ...environment },
        // Lambda's default when the template does not say.
        memoryMb: typeof memory === "number" ? memory : 128,
      });
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

const IMPORT_PROBE = `
const cpu = process.cpuUsage();
const started = performance.now();
await import(process.argv[1]);
const wall = performance.now() - started;
const used = process.cpuUsage(cpu);
process.stdout.write(wall + " " + (used.user + used.system) / 1000 + " " + process.memoryUsage().rss);
`;

export const REPO_ROOT = path.resolve(import.meta.dirname, "..");

/**
 * The Node 24 binary (what Lambda's nodejs24.x runs): this process's when it is Node 24 (npm
 * scripts put the `node` devDependency first on PATH), else the devDependency's binary.
 */
export function node24Binary(): string {
  if (process.versions.node.startsWith("24.")) return process.execPath;
  const pinned = path.join(REPO_ROOT, "node_modules", "node", "bin", "node");
  if (existsSync(pinned)) return pinned;
  throw new Error(`Node 24 is needed to time cold starts; this is Node ${process.versions.node}`);
}

/**
 * Why the cloud assembly must be (re)built, or undefined when it is up to date: missing, or older
 * than a source file that goes into a bundle or the template.
 */
export function cloudAssemblyStaleness(cdkOut: string, root = REPO_ROOT): string | undefined {
  const manifest = path.join(cdkOut, "manifest.json");
  if (!existsSync(manifest)) return `${path.relative(root, cdkOut) || cdkOut} is missing`;
  const builtAt = statSync(manifest).mtimeMs;
  const newer = (dir: string): string | undefined => {
    if (!existsSync(dir)) return undefined;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = newer(full);
        if (found) return found;
      } else if (statSync(full).mtimeMs > builtAt) return full;
    }
    return undefined;
  };
  for (const candidate of ["functions", "handlers", "shared", "infra", "package-lock.json"]) {
    const full = path.join(root, candidate);
    const found =
      existsSync(full) && statSync(full).isFile()
        ? statSync(full).mtimeMs > builtAt
          ? full
          : undefined
        : newer(full);
    if (found) return `${path.relative(root, found)} changed after the last synth`;
  }
  return undefined;
}

/** `cdk synth` (the same command as `npm run synth`), which bundles every function with esbuild. */
export async function synthesize(): Promise<void> {
  const cdk = path.join(REPO_ROOT, "node_modules", ".bin", "cdk");
  const bin = path.dirname(node24Binary());
  await run(cdk, ["synth", "--no-notices", "--quiet"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PATH: `${path.join(REPO_ROOT, "node_modules", ".bin")}:${bin}:${process.env.PATH ?? ""}`,
    },
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function importTime(
  nodeBin: string,
  file: string,
  env: Record<string, string>,
): Promise<{ wall: number; cpu: number; rssMb: number }> {
  const { stdout } = await run(
    nodeBin,
    ["--input-type=module", "-e", IMPORT_PROBE, pathToFileURL(file).href],
    {
      env: { PATH: process.env.PATH ?? "", ...env },
    },
  );
  const [wall, cpu, rss] = stdout.trim().split(" ").map(Number);
  if (wall === undefined || cpu === undefined || !Number.isFinite(wall) || !Number.isFinite(cpu)) {
    throw new Error(`could not time the import of ${file}: ${stdout}`);
  }
  return { wall, cpu, rssMb: (rss ?? 0) / 1024 ** 2 };
}

/**
 * The init CPU (median of `runs` fresh Node 24 imports of the bundle, with the function's template
 * environment) and the resident size after it, of the named functions: what a cold start costs at
 * a memory size's vCPU share, and what a batch has left of the memory (the cost section's memory
 * choice).
 */
export async function initOfFunctions(
  cdkOut: string,
  names: readonly string[],
  runs: number,
): Promise<Record<string, { init_cpu_ms: number; rss_mb: number }>> {
  const nodeBin = node24Binary();
  const result: Record<string, { init_cpu_ms: number; rss_mb: number }> = {};
  for (const fn of functionsInCloudAssembly(cdkOut).filter((f) => names.includes(f.name))) {
    const bundle = ["index.mjs", "index.js"].map((f) => path.join(fn.assetDir, f)).find((f) => existsSync(f));
    if (!bundle) throw new Error(`no bundle in ${fn.assetDir}`);
    const measured: { cpu: number; rssMb: number }[] = [];
    for (let i = 0; i < runs; i++) {
      measured.push(
        await importTime(nodeBin, bundle, {
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "cold",
          AWS_SECRET_ACCESS_KEY: "cold",
          ...fn.environment,
        }),
      );
    }
    result[fn.name] = {
      init_cpu_ms: Math.round(median(measured.map((r) => r.cpu)) * 10) / 10,
      rss_mb: Math.round(median(measured.map((r) => r.rssMb)) * 10) / 10,
    };
  }
  return result;
}

/**
 * For every function bundled by the CDK build: the bundle's size and the time a fresh Node 24
 * process takes to import it (the module scope: config validation, client creation), with the
 * function's own environment from the template — the part of a Lambda cold start that our code
 * decides. Runs alternate between the functions and an empty module (the baseline), so machine
 * noise hits all alike.
 */
export async function benchColdStart(options: {
  cdkOut: string;
  runs: number;
  progress: (message: string) => void;
}): Promise<ColdStartResult> {
  const nodeBin = node24Binary();
  const { stdout: version } = await run(nodeBin, ["--version"]);
  const fns = functionsInCloudAssembly(options.cdkOut);
  if (fns.length === 0) throw new Error(`no function bundles found in ${options.cdkOut}`);
  const bundles = fns.map((fn) => {
    const bundle = ["index.mjs", "index.js"].map((f) => path.join(fn.assetDir, f)).find((f) => existsSync(f));
    if (!bundle) throw new Error(`no bundle in ${fn.assetDir}`);
    return { fn, bundle };
  });
  const scratch = mkdtempSync(path.join(tmpdir(), "bench-cold-"));
  const empty = path.join(scratch, "empty.mjs");
  writeFileSync(empty, "export {};\n");
  const baseEnv = {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "cold",
    AWS_SECRET_ACCESS_KEY: "cold",
    POWERTOOLS_METRICS_DISABLED: "true",
  };
  const runsByName = new Map<string, { wall: number; cpu: number }[]>(bundles.map(({ fn }) => [fn.name, []]));
  const baseline: number[] = [];
  try {
    for (let i = 0; i < options.runs; i++) {
      options.progress(
        `cold start: run ${i + 1}/${options.runs} (${bundles.length} functions + empty module)`,
      );
      baseline.push((await importTime(nodeBin, empty, baseEnv)).wall);
      for (const { fn, bundle } of bundles) {
        runsByName.get(fn.name)?.push(await importTime(nodeBin, bundle, { ...baseEnv, ...fn.environment }));
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const functions: Record<string, FunctionColdStart> = {};
  for (const { fn, bundle } of bundles) {
    const measured = runsByName.get(fn.name) ?? [];
    const runs = measured.map((r) => r.wall);
    const map = `${bundle}.map`;
    const contents = bundleContents(fn.assetDir);
    functions[fn.name] = {
      bundle_kb: Math.round((statSync(bundle).size / 1024) * 10) / 10,
      source_map_kb: existsSync(map) ? Math.round((statSync(map).size / 1024) * 10) / 10 : 0,
      init_ms: Math.round(median(runs) * 10) / 10,
      init_ms_runs: runs.map((r) => Math.round(r * 10) / 10),
      init_cpu_ms: Math.round(median(measured.map((r) => r.cpu)) * 10) / 10,
      memory_mb: fn.memoryMb,
      ...(contents
        ? {
            packages_kb: Object.fromEntries(
              [...contents.packages]
                .filter(([, bytes]) => bytes >= 2048)
                .map(([name, bytes]) => [name, Math.round((bytes / 1024) * 10) / 10]),
            ),
          }
        : {}),
    };
  }
  const values = Object.values(functions);
  const awsClientPaths = await benchAwsClientPaths({
    runs: options.runs,
    calls: options.runs >= 10 ? 3000 : 1000,
    progress: options.progress,
  });
  return {
    max_bundle_kb: Math.max(...values.map((f) => f.bundle_kb)),
    max_init_ms: Math.max(...values.map((f) => f.init_ms)),
    baseline_empty_module_ms: Math.round(median(baseline) * 10) / 10,
    functions,
    runs: options.runs,
    node: version.trim(),
    method:
      "bundles from the CDK build (cdk synth, esbuild); median over fresh Node 24 processes of performance.now() around `await import(bundle)`, with the function's environment from the template",
    aws_client_paths: awsClientPaths,
  };
}

/** A PutItem item of a delivery record's size and shape (strings, a number, a DEFLATEd payload). */
const PROBE_ITEM = {
  PK: "LOG#5e4a0680-804e-11ec-8477-2fea5968d85b#a1#S2",
  SK: "2026-12-01T10:00:00.000Z#0193a5f6-b7c8-7d2e-9f10-a1b2c3d4e5f6",
  entity: "delivery",
  status: "succeeded",
  attempt_count: 1,
  webhook_id: "msg_0193a5f6b7c87d2e9f10a1b2c3d4e5f6",
  payload: new Uint8Array(600).fill(7),
  created_at: "2026-12-01T10:00:00.000Z",
};

const PUT_ITEM_PROBE = `
import http from "node:http";
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => { res.writeHead(200, { "content-type": "application/x-amz-json-1.0" }); res.end("{}"); });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
process.env.PROBE_ENDPOINT = "http://127.0.0.1:" + server.address().port;
const { putItem } = await import(process.argv[1]);
const item = JSON.parse(process.argv[3], (key, value) => key === "payload" ? new Uint8Array(value) : value);
const calls = Number(process.argv[2]);
for (let i = 0; i < 200; i++) await putItem("bench", item);
const cpu = process.cpuUsage();
for (let i = 0; i < calls; i++) await putItem("bench", item);
const used = process.cpuUsage(cpu);
process.stdout.write(String((used.user + used.system) / calls));
server.close();
process.exit(0);
`;

/**
 * The cold-start and per-call cost of a lighter AWS client, side by side with SDK v3: the two probes
 * of bench/lib/aws-client-probes/ bundled with the functions' esbuild settings (minified ESM, the
 * environment-only credentials alias, the same externals), each bundle's size, its import time in
 * fresh processes (alternating), and the CPU per PutItem against a local endpoint.
 */
export async function benchAwsClientPaths(options: {
  runs: number;
  calls: number;
  progress: (message: string) => void;
}): Promise<NonNullable<ColdStartResult["aws_client_paths"]>> {
  const { CREDENTIAL_CHAIN_PACKAGE, ESM_REQUIRE_BANNER, LAMBDA_CREDENTIALS_MODULE, LAZY_SDK_EXTERNALS } =
    await import("../infra/constructs/webhook-function.ts");
  const nodeBin = node24Binary();
  const scratch = mkdtempSync(path.join(tmpdir(), "bench-aws-client-"));
  const env = { AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "cold", AWS_SECRET_ACCESS_KEY: "cold" };
  try {
    const probes = { sdk_v3: "sdk-v3.ts", aws4: "aws4.ts" } as const;
    const bundles: Record<keyof typeof probes, string> = { sdk_v3: "", aws4: "" };
    for (const [name, file] of Object.entries(probes) as [keyof typeof probes, string][]) {
      const outfile = path.join(scratch, `${name}.mjs`);
      await build({
        entryPoints: [path.join(REPO_ROOT, "bench", "lib", "aws-client-probes", file)],
        absWorkingDir: REPO_ROOT,
        bundle: true,
        minify: true,
        platform: "node",
        format: "esm",
        target: "node24",
        mainFields: ["module", "main"],
        banner: { js: ESM_REQUIRE_BANNER },
        alias: { [CREDENTIAL_CHAIN_PACKAGE]: LAMBDA_CREDENTIALS_MODULE },
        external: [...LAZY_SDK_EXTERNALS],
        outfile,
        logLevel: "warning",
      });
      bundles[name] = outfile;
    }
    const inits: Record<keyof typeof probes, number[]> = { sdk_v3: [], aws4: [] };
    for (let i = 0; i < options.runs; i++) {
      options.progress(`cold start: AWS client paths, import ${i + 1}/${options.runs}`);
      for (const name of Object.keys(probes) as (keyof typeof probes)[]) {
        inits[name].push((await importTime(nodeBin, bundles[name], env)).wall);
      }
    }
    const item = JSON.stringify(PROBE_ITEM, (_key, value) =>
      value instanceof Uint8Array ? [...value] : (value as unknown),
    );
    const cpu: Record<keyof typeof probes, number[]> = { sdk_v3: [], aws4: [] };
    for (let round = 0; round < 3; round++) {
      options.progress(
        `cold start: AWS client paths, ${options.calls} PutItem calls each (round ${round + 1}/3)`,
      );
      for (const name of Object.keys(probes) as (keyof typeof probes)[]) {
        const { stdout } = await run(
          nodeBin,
          [
            "--input-type=module",
            "-e",
            PUT_ITEM_PROBE,
            pathToFileURL(bundles[name]).href,
            String(options.calls),
            item,
          ],
          { env: { PATH: process.env.PATH ?? "", ...env } },
        );
        cpu[name].push(Number(stdout.trim()));
      }
    }
    const result = (name: keyof typeof probes): AwsClientPath => ({
      bundle_kb: Math.round((statSync(bundles[name]).size / 1024) * 10) / 10,
      init_ms: Math.round(median(inits[name]) * 10) / 10,
      init_ms_runs: inits[name].map((r) => Math.round(r * 10) / 10),
      cpu_us_per_put_item: Math.round(median(cpu[name])),
    });
    return {
      sdk_v3: result("sdk_v3"),
      aws4: result("aws4"),
      method:
        "bench/lib/aws-client-probes/{sdk-v3,aws4}.ts bundled with the functions' esbuild settings; init as for the functions; CPU: median of 3 child processes, each timing `calls` sequential PutItem calls (after 200 warm-up calls) against an in-process endpoint answering {} over keep-alive HTTP",
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
