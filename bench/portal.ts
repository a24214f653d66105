import { gzipSync } from "node:zlib";
import { buildPortal } from "../portal/build.ts";

export interface PortalBenchResult {
  /** The built script, gzipped (what a browser downloads): the budget is 150 KB. */
  readonly js_gzip_kb: number;
  readonly js_kb: number;
  readonly css_gzip_kb: number;
  /** Everything a first visit downloads (index.html, script, style sheet, icon), gzipped. */
  readonly total_gzip_kb: number;
  /** One esbuild build of the portal, median of `runs`. */
  readonly build_ms: number;
}

const kb = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;

/** The customer portal's download size and build time (portal/build.ts, as npm start builds it). */
export function benchPortal(options: { runs: number }): PortalBenchResult {
  const times: number[] = [];
  let built = buildPortal();
  for (let run = 0; run < options.runs; run++) {
    const started = performance.now();
    built = buildPortal();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const gzip = (name: string) => gzipSync(built.files.get(name) ?? "", { level: 9 }).length;
  const script = built.files.get(built.script) ?? "";
  return {
    js_gzip_kb: kb(gzip(built.script)),
    js_kb: kb(Buffer.byteLength(script)),
    css_gzip_kb: kb(gzip(built.stylesheet)),
    total_gzip_kb: kb([...built.files.keys()].reduce((sum, name) => sum + gzip(name), 0)),
    build_ms: Math.round(times[Math.floor(times.length / 2)] ?? 0),
  };
}
