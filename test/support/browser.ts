import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/**
 * Debian's Chromium driven by playwright-core, for the portal's browser tests. No browser is ever
 * downloaded: .ci/run installs the `chromium` package with apt where /usr/bin/chromium is missing.
 */
export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export class BrowserMissingError extends Error {
  override readonly name = "BrowserMissingError";
}

export interface PortalBrowser {
  /** A fresh page of a fresh browser profile (no storage shared with other pages' profiles). */
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  /** Console errors, page errors and dialogs (an `alert` would mean injected script ran) so far. */
  readonly problems: string[];
  close(): Promise<void>;
}

export async function launchPortalBrowser(): Promise<PortalBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new BrowserMissingError(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`,
    );
  }
  const contexts: { context: BrowserContext; dir: string }[] = [];
  const problems: string[] = [];
  return {
    problems,
    async newPage(options = {}) {
      const dir = mkdtempSync(path.join(tmpdir(), "portal-browser-"));
      const context = await chromium.launchPersistentContext(dir, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
        colorScheme: "light",
        timezoneId: "UTC",
        locale: "en-GB",
      });
      contexts.push({ context, dir });
      const page = context.pages()[0] ?? (await context.newPage());
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("dialog", (dialog) => {
        problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
        void dialog.dismiss();
      });
      return page;
    },
    async close() {
      for (const { context, dir } of contexts.splice(0)) {
        await context.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * axe-core's serious and critical violations, in the whole document or in the part `selector`
 * names; injected through the DevTools protocol, so the page's CSP stays on during the scan.
 */
export async function seriousViolations(page: Page, selector?: string): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const context = selector === undefined ? "document" : JSON.stringify(selector);
  const violations = (await page.evaluate(
    `axe.run(${context}, { resultTypes: ['violations'] }).then((r) => r.violations)`,
  )) as AxeViolation[];
  return violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
