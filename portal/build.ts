/**
 * Builds the customer portal (portal/src, Preact) into static files with esbuild: one minified ES
 * module and one style sheet, both content-hashed, and an index.html that loads them (no inline
 * script or style, so the Content-Security-Policy of shared/api/portal.ts can forbid both).
 *
 * Nothing built is committed. `npm start` (the local stack), the tests and the CDK synth each call
 * `materializePortal()`, which builds into a folder named by the content hash under the system's
 * temporary folder: the same sources give the same folder, so parallel builds agree and a rebuild of
 * unchanged sources writes nothing. `npm run portal:build -- <dir>` writes the files somewhere else.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const PORTAL_DIR = path.dirname(fileURLToPath(import.meta.url));
const ENTRY = path.join(PORTAL_DIR, "src", "main.tsx");

export interface BuiltPortal {
  /** File name → contents. */
  readonly files: ReadonlyMap<string, string>;
  /** The script's name (e.g. `app-5Q2ZK3JD.js`). */
  readonly script: string;
  readonly stylesheet: string;
}

export function buildPortal(): BuiltPortal {
  const result = buildSync({
    entryPoints: { app: ENTRY },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome111", "firefox114", "safari16.4"],
    platform: "browser",
    jsx: "automatic",
    jsxImportSource: "preact",
    entryNames: "[name]-[hash]",
    outdir: "/portal-out",
    write: false,
    legalComments: "none",
    logLevel: "silent",
    charset: "utf8",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const files = new Map<string, string>();
  let script = "";
  let stylesheet = "";
  for (const output of result.outputFiles) {
    const name = path.basename(output.path);
    files.set(name, output.text);
    if (name.endsWith(".js")) script = name;
    if (name.endsWith(".css")) stylesheet = name;
  }
  if (script === "" || stylesheet === "")
    throw new Error("portal build produced no script or no style sheet");
  files.set("index.html", indexHtml(script, stylesheet));
  files.set("favicon.svg", FAVICON);
  return { files, script, stylesheet };
}

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2754c5"/><path d="M7 17h12m0 0-4-4m4 4-4 4M19 11h6M19 23h6" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" fill="none"/></svg>
`;

function indexHtml(script: string, stylesheet: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>VoIPBIN webhooks portal</title>
<link rel="icon" href="favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${stylesheet}">
<script type="module" src="${script}"></script>
</head>
<body>
<div id="app"><noscript>The portal needs JavaScript.</noscript></div>
</body>
</html>
`;
}

/** Writes the build into `dir` (created if needed). */
export function writePortal(built: BuiltPortal, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of built.files) writeFileSync(path.join(dir, name), text);
}

/**
 * Builds the portal and returns a folder holding it: `<tmp>/voipbin-portal-<hash>`, written once
 * (into a sibling folder renamed into place, so a reader never sees half of it).
 */
export function materializePortal(): string {
  const built = buildPortal();
  const hash = createHash("sha256");
  for (const [name, text] of [...built.files].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(name).update("\0").update(text).update("\0");
  }
  const dir = path.join(tmpdir(), `voipbin-portal-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(path.join(dir, "index.html"))) return dir;
  const staging = `${dir}.${process.pid}.${Date.now()}`;
  writePortal(built, staging);
  try {
    renameSync(staging, dir);
  } catch (error) {
    // Another process put the same build in place first.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(path.join(dir, "index.html"))) throw error;
  }
  return dir;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (out === undefined) {
    process.stdout.write(`${materializePortal()}\n`);
  } else {
    writePortal(buildPortal(), path.resolve(out));
    process.stdout.write(`${path.resolve(out)}\n`);
  }
}
