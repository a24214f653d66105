import { defineConfig } from "vitest/config";

/**
 * Workers: Vitest's default is one fewer than the cores, i.e. a single worker on the 2-core CI
 * machine, which ran all ~90 files one after the other (~8.5 minutes, most of it tests waiting on a
 * retry schedule, a long poll or a child process, not computing). The projects run in two groups:
 * first the in-process ones (unit, integration, infra: shared emulators, uniquely named tables and
 * queues, so files are independent) with two workers, then the ones that start whole local stacks
 * or a browser (e2e, browser), also with two. Three in-process workers were tried: on the loaded
 * shared machine the CPU-bound waits-out-of-flight file then ran past its 160 s bound. `.ci/run` runs
 * the groups as two `--project` steps, e2e/browser first beside the quick chaos run, then the
 * in-process ones alone (docs/decisions.md, "`.ci/run` in ≤ 10 minutes").
 */
const IN_PROCESS_WORKERS = 2;
const STACK_WORKERS = 2;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          // Beside two other workers on a loaded machine, a fuzz or property file's longest test
          // (~1 s alone) was seen taking 11 s: the default 5 s bound would fail it for the load.
          testTimeout: 30_000,
          maxWorkers: IN_PROCESS_WORKERS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          maxWorkers: IN_PROCESS_WORKERS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: "infra",
          include: ["test/infra/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: IN_PROCESS_WORKERS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          // The customer portal in Debian's Chromium (playwright-core) against `npm start`.
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: STACK_WORKERS,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: STACK_WORKERS,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
