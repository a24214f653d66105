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
   * chaos and local-emulator files are left out: they test local/ and bench/, not shared/.
   */
  shared: [
    "test/unit/access-and-quotas.test.ts",
    "test/unit/access-key-service.test.ts",
    "test/unit/api-app.test.ts",
    "test/unit/api-cursor.test.ts",
    "test/unit/api-errors.test.ts",
    "test/unit/api-http.test.ts",
    "test/unit/api-portal-files.test.ts",
    "test/unit/backoff.test.ts",
    "test/unit/backstop-service.test.ts",
    "test/unit/catalogue.test.ts",
    "test/unit/chaos-sqs-safe-json.test.ts",
    "test/unit/config.test.ts",
    "test/unit/decode-stack.test.ts",
    "test/unit/deliveries-legacy.test.ts",
    "test/unit/deliver-service.test.ts",
    "test/unit/delivery-ids.test.ts",
    "test/unit/delivery-insights-service.test.ts",
    "test/unit/delivery-log-service.test.ts",
    "test/unit/delivery-state-machine.test.ts",
    "test/unit/destination-policy.test.ts",
    "test/unit/domain-errors.test.ts",
    "test/unit/endpoint-health.test.ts",
    "test/unit/erasure-activeflow-warnings.test.ts",
    "test/unit/erasure-service.test.ts",
    "test/unit/event-schemas.test.ts",
    "test/unit/fair-lanes-cap.test.ts",
    "test/unit/fair-routing.test.ts",
    "test/unit/fixtures.test.ts",
    "test/unit/http-sender.test.ts",
    "test/unit/json-bounds.test.ts",
    "test/unit/lane-gate.test.ts",
    "test/unit/lateness.test.ts",
    "test/unit/managed-control.test.ts",
    "test/unit/managed-subscriptions.test.ts",
    "test/unit/observability.test.ts",
    "test/unit/openapi.test.ts",
    "test/unit/payload-filter.test.ts",
    "test/unit/portal-domain.test.ts",
    "test/unit/reserved-endpoints.test.ts",
    "test/unit/route-event-service.test.ts",
    "test/unit/retry-policy.test.ts",
    "test/unit/routing.test.ts",
    "test/unit/runtime-catalogue.test.ts",
    "test/unit/sha256.test.ts",
    "test/unit/shared-enqueue-members.test.ts",
    "test/unit/shared-enqueue.test.ts",
    "test/unit/signing.test.ts",
    "test/unit/subscription-rules.test.ts",
    "test/unit/subscription-service.test.ts",
    "test/unit/table-projection.test.ts",
    "test/unit/waits.test.ts",
  ],
  /**
   * `MUTATE_TESTS=adapters` (`npm run mutate:adapters`): the shared unit tests and these integration
   * tests, which reach the DynamoDB repositories and the API through the emulators (dynalite, the
   * local SQS) without a delivery function polling or a receiver waiting: 0.05–0.3 s a test, so a
   * narrowed run of one adapter file is minutes, not hours (docs/benchmarks.md, "Mutation testing").
   * api-deliveries is left out: its tests wait for the delivery function (about 1 s each).
   */
  adapters: [
    "test/integration/api-activeflow-destinations.test.ts",
    "test/integration/api-auth.test.ts",
    "test/integration/api-errors.test.ts",
    "test/integration/api-managed.test.ts",
    "test/integration/api-portal.test.ts",
    "test/integration/api-quotas.test.ts",
    "test/integration/api-subscriptions.test.ts",
    "test/integration/customer-deleted-erasure.test.ts",
    "test/integration/delivery-records.test.ts",
    "test/integration/endpoint-health.test.ts",
    "test/integration/payload-retention.test.ts",
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
const unitFiles =
  only === "shared" || only === "adapters" ? MUTATION_TEST_FILES.shared : MUTATION_TEST_FILES.unit;
const integrationFiles = only === "adapters" ? MUTATION_TEST_FILES.adapters : MUTATION_TEST_FILES.integration;

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
                include: [...integrationFiles],
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
