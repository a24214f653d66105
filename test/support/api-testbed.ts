import { randomUUID } from "node:crypto";
import { createSqsClient, createTableClients } from "#shared/adapters/clients.ts";
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
import { IamRecorder, ungrantedCalls } from "./iam-check.ts";

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
  /**
   * The DynamoDB and SQS calls the API and authorizer handlers made so far that their roles in the
   * synthesized stack do not allow (AccessDenied on AWS; test/support/iam-check.ts): empty when all
   * are granted. The `gatewayWith` APIs and minted keys are not recorded.
   */
  ungrantedCalls(): string[];
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
  // The handlers' own clients, as their factories create them, with a recorder on each (AWS's IAM
  // rule, which the local stack does not enforce: docs/security.md).
  const config = loadConfig(env.env);
  const recorded = { api: new IamRecorder(), authorizer: new IamRecorder() };
  const api = createApiHandler(
    createApiDependencies(config, {
      resolver: testResolver,
      clients: {
        doc: recorded.api.recordDynamoDb(createTableClients(config).doc),
        sqs: recorded.api.recordSqs(createSqsClient(config)),
      },
      ...options.overrides,
    }),
  );
  const authorizer = createAuthorizerHandler(
    createAuthorizerDependencies(loadAuthorizerConfig(env.env), {
      doc: recorded.authorizer.recordDynamoDb(createTableClients(config).doc),
    }),
  );
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
    ungrantedCalls: () => [
      ...ungrantedCalls(recorded.api, env, "api").map((line) => `api: ${line}`),
      ...ungrantedCalls(recorded.authorizer, env, "authorizer").map((line) => `authorizer: ${line}`),
    ],
    close: () => env.close(),
  };
}
