/**
 * Where a local stack listens and how a client gets in: what the operator tools (`npm run keys`,
 * `ops`), the local stack itself (local/), the bench and the tests all need to know of a local stack,
 * without importing the stack's emulators. The operator tools must not import local/ (the emulator
 * folder; .dependency-cruiser.cjs "operator-tools-without-emulators"), so these facts live here and
 * local/ reads them from here, as it reads the CLI parser (./cli.ts).
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DELIVERY_LANE_CONCURRENCY } from "#shared/resources.ts";

/**
 * Local defaults. The retry schedule is short so that retries, dead letters and manual retries can
 * be watched in seconds (a deployment's default is 5 s … 10 h); loopback is the one private range
 * subscriptions may point at, and plain http is accepted, so that receivers on this machine work.
 */
export const LOCAL_DEFAULTS = {
  API_PORT: 3000,
  EVENTS_PORT: 4010,
  DYNAMODB_PORT: 4011,
  SQS_PORT: 4012,
  RETRY_SCHEDULE: "1,2,4",
  ALLOWED_CIDRS: "127.0.0.0/8,::1/128",
  ALLOW_HTTP_URLS: "true",
  AWS_REGION: "us-east-1",
  // As many pollers per lane as the deployment's mappings run invocations (shared/resources.ts): a
  // poller spends its batch waiting on HTTP and the emulators, so the count is about isolation (what
  // a black hole can hold), not cores.
  DELIVERY_CONCURRENCY: DELIVERY_LANE_CONCURRENCY.main,
  SLOW_LANE_CONCURRENCY: DELIVERY_LANE_CONCURRENCY.slow,
  // SQS's in-flight quota per standard queue ("Amazon SQS queue quotas"); lower it to watch it bite.
  SQS_INFLIGHT_LIMIT: 120_000,
} as const;

/** Every local stack service listens on loopback only: nothing here authenticates like AWS does. */
export const LOCAL_HOST = "127.0.0.1";

/**
 * Credentials for an emulator started on its own (a test's, the integration tests'), which accepts
 * any: fixed ones keep the SDK from searching the machine for real ones. A local stack's emulators
 * accept only the stack's key (local/stack-key.ts): use localCredentials(endpoint) for those.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;

/**
 * The credentials for the local stack serving `endpoint`: its stack key (found in the file the stack
 * writes for its port, or LOCAL_STACK_KEY when set), read at each signing so that a restarted stack's
 * new key is picked up; LOCAL_CREDENTIALS where no stack advertises one.
 */
export function localCredentials(
  endpoint: string,
): () => Promise<{ accessKeyId: string; secretAccessKey: string }> {
  return async () => ({
    accessKeyId: process.env.LOCAL_STACK_KEY || stackKeyFor(endpoint) || LOCAL_CREDENTIALS.accessKeyId,
    secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
  });
}

// --- Where the tools find the key of the stack on a port (the stack writes it, they read it) -------

function keysDir(): string {
  const user = typeof process.getuid === "function" ? String(process.getuid()) : "user";
  return path.join(tmpdir(), `voipbin-webhooks-local-${user}`);
}

function keyFile(port: number): string {
  return path.join(keysDir(), `port-${port}.key`);
}

/** Writes the stack key for each port (mode 0600); the returned function removes them again. */
export function advertiseStackKey(ports: readonly number[], stackKey: string): () => void {
  const dir = keysDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const port of ports) writeFileSync(keyFile(port), stackKey, { mode: 0o600 });
  return () => {
    for (const port of ports) {
      try {
        if (readFileSync(keyFile(port), "utf8") === stackKey) rmSync(keyFile(port), { force: true });
      } catch {
        // Already gone, or taken over by another stack on the port.
      }
    }
  };
}

/** The key of the local stack serving `endpoint` (http://127.0.0.1:<port>), if one advertised it. */
export function stackKeyFor(endpoint: string): string | undefined {
  let port: number;
  try {
    const url = new URL(endpoint);
    port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  } catch {
    return undefined;
  }
  try {
    return readFileSync(keyFile(port), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
