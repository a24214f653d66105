import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { startFauxqs } from "fauxqs";
import type { TestProject } from "vitest/node";
import { startVisibilityCeilingProxy } from "../../local/sqs-visibility-ceiling.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** http://127.0.0.1:PORT of the in-memory dynalite shared by every integration test file. */
    dynamodbEndpoint: string;
    /** http://127.0.0.1:PORT of the in-memory fauxqs shared by every integration test file. */
    sqsEndpoint: string;
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
 * Starts one dynalite and one fauxqs for the whole integration run. Test files isolate themselves
 * by creating uniquely named tables and queues (test/support/aws-env.ts), not separate servers.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once("error", reject);
    dynamo.listen(0, "127.0.0.1", () => resolve());
  });
  const { port: dynamoPort } = dynamo.address() as AddressInfo;

  const fauxqs = await startFauxqs({ port: 0, logger: false });
  // Every test talks to fauxqs through a proxy that refuses visibility changes past 12 hours from the
  // receive, as SQS does (fauxqs does not). fauxqs listens on 0.0.0.0; clients need a dialable address.
  const sqs = await startVisibilityCeilingProxy({ upstream: `http://127.0.0.1:${fauxqs.port}` });

  project.provide("dynamodbEndpoint", `http://127.0.0.1:${dynamoPort}`);
  project.provide("sqsEndpoint", sqs.endpoint);

  return async () => {
    await sqs.stop();
    await Promise.allSettled([
      fauxqs.stop(),
      new Promise<void>((resolve, reject) => dynamo.close((err) => (err ? reject(err) : resolve()))),
    ]);
  };
}
