import { startFauxqs } from "fauxqs";
import { startDynaliteProcess } from "../../local/dynalite-process.ts";

export interface Emulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** dynalite's process (the table's CPU and memory are not the benchmark process's). */
  readonly dynamodbPid: number;
  stop(): Promise<void>;
}

/** In-memory dynalite (in a child process, as the local stack runs it) and fauxqs on free loopback ports. */
export async function startEmulators(): Promise<Emulators> {
  const dynamo = await startDynaliteProcess({ host: "127.0.0.1", port: 0 });
  const fauxqs = await startFauxqs({ port: 0, logger: false });
  return {
    dynamodbEndpoint: dynamo.endpoint,
    sqsEndpoint: `http://127.0.0.1:${fauxqs.port}`,
    dynamodbPid: dynamo.pid,
    async stop() {
      await Promise.allSettled([fauxqs.stop(), dynamo.stop()]);
    },
  };
}
