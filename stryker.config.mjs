// @ts-check
/**
 * Mutation testing of the delivery core (`npm run mutate`), or of all of shared/ against the fast unit
 * tests (`npm run mutate:shared`); docs/benchmarks.md, "Mutation testing".
 * Not part of .ci/run: a full run takes hours on two cores. Narrow it with
 * `npm run mutate -- --mutate shared/domain/delivery/retry-policy.ts` while working on one file.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutate.config.ts" },
  // MUTATE_TESTS=unit: the unit tests only (minutes instead of hours; integration kills go uncounted).
  plugins: ["@stryker-mutator/vitest-runner"],
  // MUTATE_SCOPE=shared (`npm run mutate:shared`): every module of shared/, against the fast unit tests
  // (MUTATE_TESTS=shared in vitest.mutate.config.ts); the default stays the delivery core.
  mutate:
    process.env.MUTATE_SCOPE === "shared"
      ? ["shared/**/*.ts", "!shared/**/*.d.ts"]
      : ["shared/services/delivery/**/*.ts", "shared/domain/delivery/**/*.ts"],
  // Only the tests that reach a mutant run against it.
  coverageAnalysis: "perTest",
  // Two shared cores: one runner, and the integration tests' emulators on the other.
  concurrency: 1,
  // Integration tests wait on queues: allow a loaded machine's slowness before calling a mutant a timeout.
  timeoutFactor: 2,
  timeoutMS: 20_000,
  ignoreStatic: true,
  reporters: ["clear-text", "progress", "html", "json"],
  // MUTATE_REPORT names a run's reports (one per narrowed run, so scripts/mutation-score.ts can add
  // the runs actually made into the whole-shared score).
  htmlReporter: { fileName: `${process.env.MUTATE_REPORT ?? "reports/mutation/mutation"}.html` },
  jsonReporter: { fileName: `${process.env.MUTATE_REPORT ?? "reports/mutation/mutation"}.json` },
  tempDirName: ".stryker-tmp",
  // Stryker rewrites a tsconfig's `extends` and `references` for its sandbox through TypeScript's JS
  // API, which TypeScript 7 (native) no longer has; ours has neither, so it is pointed at no file.
  tsconfigFile: "no-tsconfig-to-rewrite.json",
  cleanTempDir: "always",
};
