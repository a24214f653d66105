/**
 * What went into a function's bundle, from the esbuild metafile the CDK build writes beside it
 * (`metafile: true` in webhook-function.ts): bytes in the minified output by package. The infra tests
 * keep packages out of the bundles with it, and the cold-start bench reports it.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** Where the CDK's esbuild step writes the metafile (beside the bundle, in the asset). */
export const BUNDLE_METAFILE = "index.meta.json";

interface Metafile {
  readonly outputs: Record<
    string,
    { readonly bytes: number; readonly inputs: Record<string, { readonly bytesInOutput: number }> }
  >;
}

/**
 * The package an input belongs to: `zod` for `node_modules/zod/v4/core/api.js`, `@smithy/core` for a
 * scoped one (the innermost node_modules counts: a nested copy is that package too), and for our own
 * sources their top folder (`shared/adapters`, `handlers`) or file.
 */
export function packageOf(input: string): string {
  const nested = input.lastIndexOf("node_modules/");
  if (nested >= 0) {
    const [scope, name] = input.slice(nested + "node_modules/".length).split("/");
    return scope?.startsWith("@") ? `${scope}/${name}` : (scope ?? input);
  }
  const parts = input.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : input;
}

export interface BundleContents {
  /** The bundle's size (bytes). */
  readonly bytes: number;
  /** Every input file (its path as esbuild names it, relative to the project root) → bytes in the output. */
  readonly inputs: ReadonlyMap<string, number>;
  /** Bytes in the output by package, largest first. */
  readonly packages: ReadonlyMap<string, number>;
}

/** The contents of the bundle in `assetDir` (a function's asset in cdk.out), or undefined without a metafile. */
export function bundleContents(assetDir: string): BundleContents | undefined {
  const file = path.join(assetDir, BUNDLE_METAFILE);
  if (!existsSync(file)) return undefined;
  const meta = JSON.parse(readFileSync(file, "utf8")) as Metafile;
  const output = Object.entries(meta.outputs).find(([name]) => /index\.m?js$/.test(name))?.[1];
  if (!output) throw new Error(`no bundle output in ${file}`);
  const inputs = new Map<string, number>();
  const packages = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    if (bytesInOutput === 0) continue;
    inputs.set(input, bytesInOutput);
    const name = packageOf(input);
    packages.set(name, (packages.get(name) ?? 0) + bytesInOutput);
  }
  return {
    bytes: output.bytes,
    inputs,
    packages: new Map([...packages].sort((a, b) => b[1] - a[1])),
  };
}
