import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** One built file of the portal: index.html, or a content-hashed script or style sheet. */
export interface PortalAsset {
  readonly body: string;
  readonly contentType: string;
  /** Content-hashed file names never change content: cache them for a year. */
  readonly immutable: boolean;
}

/** File name (relative to /portal/) → file. */
export type PortalAssets = ReadonlyMap<string, PortalAsset>;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/** esbuild's `[name]-[hash]` file names: their content never changes under that name. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z]+$/;

/** A JSON document file the API serves as it is (the OpenAPI document shipped beside the bundle). */
export function readJsonDocument(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}

/**
 * Reads the portal's built files (portal/build.ts wrote them) from a folder, once; null when the
 * folder does not exist (a deployment without the portal). Sub-folders are not served.
 */
export function loadPortalAssets(dir: string): PortalAssets | null {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const assets = new Map<string, PortalAsset>();
  for (const name of names) {
    const contentType = CONTENT_TYPES[path.extname(name)];
    if (contentType === undefined) continue;
    assets.set(name, {
      body: readFileSync(path.join(dir, name), "utf8"),
      contentType,
      immutable: HASHED_NAME.test(name),
    });
  }
  return assets.has("index.html") ? assets : null;
}
