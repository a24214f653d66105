import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { startLocalSqs } from "../../local/sqs/index.ts";
import { type IamPolicies, synthesizeIamPolicies } from "../support/iam-policies.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** http://127.0.0.1:PORT of the in-memory dynalite shared by every integration test file. */
    dynamodbEndpoint: string;
    /** http://127.0.0.1:PORT of the in-memory local SQS (local/sqs/) shared by every integration test file. */
    sqsEndpoint: string;
    /** The checked roles' statements in the synthesized stack (test/support/iam-check.ts). */
    iamPolicies: IamPolicies;
  }
}

interface DynaliteOptions {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  /** LevelDB directory; in memory when omitted. */
  path?: string;
}

// dynalite is CommonJS without type declarations; this is the part of its API used here.
const dynalite = createRequire(import.meta.url)("dynalite") as (options?: DynaliteOptions) => Server;

/**
 * Starts one dynalite and one local SQS for the whole integration run. Test files isolate themselves
 * by creating uniquely named tables and queues (test/support/aws-env.ts), not separate servers. The
 * SQS is the local stack's own (local/sqs/), in memory and in a worker thread, so the tests meet the
 * rules it enforces as AWS does (docs/local.md, "What the SQS stand-in enforces").
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once("error", reject);
    dynamo.listen(0, "127.0.0.1", () => resolve());
  });
  const { port: dynamoPort } = dynamo.address() as AddressInfo;

  const sqs = await startLocalSqs({ host: "127.0.0.1", port: 0, region: "us-east-1", file: ":memory:" });

  // Once per run, not once per file: a synth is ~3 s of CPU.
  project.provide("iamPolicies", synthesizeIamPolicies());
  project.provide("dynamodbEndpoint", `http://127.0.0.1:${dynamoPort}`);
  project.provide("sqsEndpoint", sqs.endpoint);

  return async () => {
    await Promise.allSettled([
      sqs.close(),
      new Promise<void>((resolve, reject) => dynamo.close((err) => (err ? reject(err) : resolve()))),
    ]);
  };
}
