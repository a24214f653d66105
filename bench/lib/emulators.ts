import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { startFauxqs } from "fauxqs";

// dynalite is CommonJS without type declarations; this is the part of its API used here.
const dynalite = createRequire(import.meta.url)("dynalite") as (options?: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

export interface Emulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  stop(): Promise<void>;
}

/** In-memory dynalite and fauxqs on free loopback ports, in this process. */
export async function startEmulators(): Promise<Emulators> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once("error", reject);
    dynamo.listen(0, "127.0.0.1", () => resolve());
  });
  const fauxqs = await startFauxqs({ port: 0, logger: false });
  return {
    dynamodbEndpoint: `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`,
    sqsEndpoint: `http://127.0.0.1:${fauxqs.port}`,
    async stop() {
      await Promise.allSettled([
        fauxqs.stop(),
        new Promise<void>((resolve) => dynamo.close(() => resolve())),
      ]);
    },
  };
}
