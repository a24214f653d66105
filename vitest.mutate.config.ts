import { defineConfig } from "vitest/config";

/**
 * The tests StrykerJS runs against each mutant of the delivery core (`npm run mutate`,
 * stryker.config.mjs): the unit and integration tests that exercise shared/services/delivery and
 * shared/domain/delivery, with the integration project's emulators (global-setup.ts). A test file
 * that covers the delivery core belongs here, or the mutation score undercounts it.
 * `MUTATE_TESTS=unit` leaves the integration project out: minutes instead of hours, at the price of
 * counting as survivors the mutants only integration tests kill.
 */
export const MUTATION_TEST_FILES = {
  unit: [
    "test/unit/retry-policy.test.ts",
    "test/unit/visibility.test.ts",
    "test/unit/endpoint-health.test.ts",
    "test/unit/managed-subscriptions.test.ts",
    "test/unit/portal-domain.test.ts",
    "test/unit/routing.test.ts",
    "test/unit/chaos-sqs-safe-json.test.ts",
  ],
  /**
   * `MUTATE_TESTS=shared`: the fast unit tests that import shared/ (no emulators, no child stacks),
   * for the whole-shared run (`npm run mutate:shared`, docs/benchmarks.md "Mutation testing"). The
   * chaos, local-emulator and waits files are left out: they test local/ and bench/, not shared/.
   */
  shared: [
    "test/unit/access-and-quotas.test.ts",
    "test/unit/api-cursor.test.ts",
    "test/unit/api-errors.test.ts",
    "test/unit/backoff.test.ts",
    "test/unit/catalogue.test.ts",
    "test/unit/chaos-sqs-safe-json.test.ts",
    "test/unit/config.test.ts",
    "test/unit/decode-stack.test.ts",
    "test/unit/deliveries-legacy.test.ts",
    "test/unit/delivery-ids.test.ts",
    "test/unit/destination-policy.test.ts",
    "test/unit/domain-errors.test.ts",
    "test/unit/endpoint-health.test.ts",
    "test/unit/erasure-activeflow-warnings.test.ts",
    "test/unit/event-schemas.test.ts",
    "test/unit/fair-lanes-cap.test.ts",
    "test/unit/fair-routing.test.ts",
    "test/unit/fixtures.test.ts",
    "test/unit/http-sender.test.ts",
    "test/unit/json-bounds.test.ts",
    "test/unit/lateness.test.ts",
    "test/unit/managed-control.test.ts",
    "test/unit/managed-subscriptions.test.ts",
    "test/unit/observability.test.ts",
    "test/unit/openapi.test.ts",
    "test/unit/payload-filter.test.ts",
    "test/unit/portal-domain.test.ts",
    "test/unit/reserved-endpoints.test.ts",
    "test/unit/retry-policy.test.ts",
    "test/unit/routing.test.ts",
    "test/unit/runtime-catalogue.test.ts",
    "test/unit/sha256.test.ts",
    "test/unit/signing.test.ts",
    "test/unit/subscription-rules.test.ts",
    "test/unit/table-projection.test.ts",
  ],
  integration: [
    "test/integration/delivery-batch.test.ts",
    "test/integration/single-chain.test.ts",
    "test/integration/pipeline.test.ts",
    "test/integration/endpoint-health.test.ts",
    "test/integration/delivery-records.test.ts",
    "test/integration/api-deliveries.test.ts",
  ],
} as const;

const only = process.env.MUTATE_TESTS;
const unitOnly = only === "unit" || only === "shared";
const unitFiles = only === "shared" ? MUTATION_TEST_FILES.shared : MUTATION_TEST_FILES.unit;

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: [...unitFiles], environment: "node" } },
      ...(unitOnly
        ? []
        : [
            {
              test: {
                name: "integration",
                include: [...MUTATION_TEST_FILES.integration],
                environment: "node",
                globalSetup: ["test/integration/global-setup.ts"],
                testTimeout: 30_000,
                hookTimeout: 30_000,
              },
            },
          ]),
    ],
  },
});
