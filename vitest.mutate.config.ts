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
  integration: [
    "test/integration/delivery-batch.test.ts",
    "test/integration/single-chain.test.ts",
    "test/integration/pipeline.test.ts",
    "test/integration/endpoint-health.test.ts",
    "test/integration/delivery-records.test.ts",
    "test/integration/api-deliveries.test.ts",
  ],
} as const;

const unitOnly = process.env.MUTATE_TESTS === "unit";

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: [...MUTATION_TEST_FILES.unit], environment: "node" } },
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
