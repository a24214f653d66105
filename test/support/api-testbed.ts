import { randomUUID } from "node:crypto";
import { loadAuthorizerConfig, loadConfig } from "#shared/config.ts";
import {
  type ApiDependencyOverrides,
  createApiDependencies,
  createAuthorizerDependencies,
} from "#shared/dependencies.ts";
import { type MintedAccessKey, mintAccessKey } from "#shared/services/access-keys.ts";
import { SqsEventSource } from "../../local/sqs-event-source.ts";
import { ApiGatewaySimulator, testResolver } from "./api.ts";
import { createTestEnvironment, type TestEnvironment, type TestEnvironmentOptions } from "./aws-env.ts";

export interface ApiTestbed {
  readonly env: TestEnvironment;
  /** The API behind the simulated API Gateway, with the real authorizer and handler. */
  readonly gateway: ApiGatewaySimulator;
  /** Mints a key for a customer (a new random customer when omitted). */
  mintKey(options?: { customerId?: string; expiresInDays?: number; now?: Date }): Promise<MintedAccessKey>;
  readonly authorizerDependencies: ReturnType<typeof createAuthorizerDependencies>;
  /** Another API over the same table and queues, configured differently (e.g. ALLOW_HTTP_URLS=false). */
  gatewayWith(env: Record<string, string>, overrides?: ApiDependencyOverrides): ApiGatewaySimulator;
  /** The delivery function (its own module) polling the delivery queue, started; the caller stops it. */
  startDeliveries(): Promise<SqsEventSource>;
  close(): void;
}

/**
 * A fresh table and queues, the authorizer and API handlers built from them (the handler modules'
 * own factories, with the test resolver so no check leaves the machine), and a way to mint keys.
 */
export async function createApiTestbed(
  options: TestEnvironmentOptions & { overrides?: ApiDependencyOverrides } = {},
): Promise<ApiTestbed> {
  const env = await createTestEnvironment({
    ...options,
    env: { POWERTOOLS_LOG_LEVEL: "SILENT", POWERTOOLS_METRICS_DISABLED: "true", ...options.env },
  });
  env.applyToProcessEnv();
  const { createApiHandler } = await import("#handlers/api.ts");
  const { createAuthorizerHandler } = await import("#handlers/authorizer.ts");
  const authorizerDependencies = createAuthorizerDependencies(loadAuthorizerConfig(env.env));
  const api = createApiHandler(
    createApiDependencies(loadConfig(env.env), { resolver: testResolver, ...options.overrides }),
  );
  const authorizer = createAuthorizerHandler(authorizerDependencies);
  return {
    env,
    gateway: new ApiGatewaySimulator(authorizer, api),
    authorizerDependencies,
    gatewayWith: (extraEnv, overrides) =>
      new ApiGatewaySimulator(
        authorizer,
        createApiHandler(
          createApiDependencies(loadConfig({ ...env.env, ...extraEnv }), {
            resolver: testResolver,
            ...options.overrides,
            ...overrides,
          }),
        ),
      ),
    mintKey: (mint = {}) =>
      mintAccessKey(
        { customerId: mint.customerId ?? randomUUID(), expiresInDays: mint.expiresInDays },
        mint.now ? { ...authorizerDependencies, now: () => mint.now as Date } : authorizerDependencies,
      ),
    startDeliveries: async () => {
      const delivery = await import("#functions/delivery.ts");
      const source = new SqsEventSource({
        sqs: env.sqs,
        queueUrl: env.queues.deliveryQueueUrl,
        handler: delivery.handler,
        waitTimeSeconds: 1,
        concurrency: 2,
      });
      source.start();
      return source;
    },
    close: () => env.close(),
  };
}
