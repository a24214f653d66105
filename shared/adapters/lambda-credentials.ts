/**
 * What the Lambda bundles use in place of `@aws-sdk/credential-provider-node` (the esbuild alias in
 * infra/constructs/webhook-function.ts): the credentials from the environment, nothing else.
 *
 * Lambda puts the execution role's temporary credentials in AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN of every function
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
 * and the SDK's default chain takes them from there first. The rest of the chain (shared config
 * files, SSO, web identity, the login and process providers, ECS and EC2 metadata) never answers on
 * Lambda, yet bundles ~100 KB (its STS/SSO clients in @aws-sdk/nested-clients) and its metadata
 * provider imports node:http, whose ESM namespace loads Node's bundled undici (~20–35 ms of cold
 * start, nodejs/node#57649). Tests, the local stack and the CLIs run unbundled and keep the full chain.
 */
import { fromEnv } from "@aws-sdk/credential-provider-env";

/** The signature of `@aws-sdk/credential-provider-node`'s `defaultProvider`, which the clients call. */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
