/**
 * The operator CLI (`npm run keys -- …`, scripts/keys.ts) as an operator runs it: a child process
 * through npm, against the integration dynalite, and the printed key then used where keys are
 * judged — the authorizer handler and the API behind it.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { hashAccessKey } from "#shared/domain/access-keys/access-key.ts";
import { authorizerEvent, errorCode } from "../support/api.ts";
import { type ApiTestbed, createApiTestbed } from "../support/api-testbed.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const KEY_LINE = /^vb_[A-Za-z0-9_-]{32}\n$/;

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let bed: ApiTestbed;

// Every CLI run is a fresh Node process compiling TypeScript (1–3 s on a busy machine); several run per test.
vi.setConfig({ testTimeout: 90_000 });

beforeAll(async () => {
  bed = await createApiTestbed();
});

afterAll(() => bed?.close());

/** `npm run --silent keys -- <args>` with the test table as its target, unless `env` says otherwise. */
function keys(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    DYNAMODB_ENDPOINT: bed.env.env.DYNAMODB_ENDPOINT,
    TABLE_NAME: bed.env.tableName,
    ...env,
  };
  for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name];
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", "keys", "--", ...args], {
      cwd: REPO_ROOT,
      env: childEnv as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function inBatches<T, R>(items: readonly T[], run: (item: T) => Promise<R>, size = 4): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    results.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  }
  return results;
}

async function authorize(key: string) {
  const { createAuthorizerHandler } = await import("#handlers/authorizer.ts");
  return createAuthorizerHandler(bed.authorizerDependencies)(
    authorizerEvent({ method: "GET", path: "/v1/subscriptions", key }),
  );
}

interface ListedKey {
  key_id: string;
  customer_id: string;
  name: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  status: string;
}

describe("keys create", () => {
  it("prints the key alone on stdout, and that key authenticates as the customer", async () => {
    const customer = randomUUID();
    const created = await keys(["create", "--customer", customer]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(KEY_LINE);
    const key = created.stdout.trim();
    expect(created.stderr).not.toContain(key);
    expect(created.stderr).not.toContain(hashAccessKey(key));
    expect(created.stderr).toContain(customer);

    const verdict = await authorize(key);
    expect(verdict.isAuthorized).toBe(true);
    expect(verdict.context).toMatchObject({ customer_id: customer });
    const keyId = (verdict.context as { key_id: string }).key_id;
    expect(created.stderr).toContain(keyId);

    // And the API behind the authorizer serves that customer, with the key in either place.
    expect((await bed.gateway.get("/v1/subscriptions", { key })).status).toBe(200);
    expect((await bed.gateway.get("/v1/subscriptions", { query: { accesskey: key } })).status).toBe(200);
  });

  it("stores the name and expiry, lower-cases the customer id, and mints a different key each time", async () => {
    const customer = randomUUID();
    const before = Date.now();
    const [named, plain] = await Promise.all([
      keys([
        "create",
        "--customer",
        customer.toUpperCase(),
        "--name",
        "  billing sync  ",
        "--expires-in",
        "30",
      ]),
      keys(["create", "--customer", customer]),
    ]);
    expect(named.code, named.stderr).toBe(0);
    expect(plain.code, plain.stderr).toBe(0);
    expect(named.stdout).toMatch(KEY_LINE);
    expect(plain.stdout).toMatch(KEY_LINE);
    expect(named.stdout).not.toBe(plain.stdout);

    const listed = await keys(["list", "--customer", customer, "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const items = JSON.parse(listed.stdout) as ListedKey[];
    expect(items).toHaveLength(2);
    const withName = items.find((item) => item.name === "billing sync");
    expect(withName).toMatchObject({ customer_id: customer, revoked_at: null, status: "active" });
    const expires = Date.parse(withName?.expires_at ?? "");
    expect(expires).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(expires).toBeLessThan(Date.now() + 30 * 86_400_000 + 1000);
    expect(items.find((item) => item.name === null)).toMatchObject({ expires_at: null, status: "active" });
    expect((await authorize(named.stdout.trim())).context).toMatchObject({ customer_id: customer });
  });
});

describe("keys list and revoke", () => {
  it("lists without keys or hashes; a revoked key stops authenticating at once", async () => {
    const customer = randomUUID();
    const created = await keys(["create", "--customer", customer, "--name", "ops"]);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    const keyId = (await authorize(key)).context as { key_id: string };

    const table = await keys(["list", "--customer", customer]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^KEY ID\s+NAME\s+CREATED\s+EXPIRES\s+REVOKED\s+STATUS$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(new RegExp(`^${keyId.key_id}\\s+ops\\s+\\S+Z\\s+never\\s+-\\s+active$`));
    for (const output of [table.stdout, table.stderr]) {
      expect(output).not.toContain(key);
      expect(output).not.toContain(key.slice(3));
      expect(output).not.toContain(hashAccessKey(key));
    }

    const revoked = await keys(["revoke", keyId.key_id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe("");
    expect(revoked.stderr).toMatch(/^Revoked: access key /);
    expect((await authorize(key)).context).toEqual({ auth_error: "INVALID_CREDENTIALS" });
    const refused = await bed.gateway.get("/v1/subscriptions", { key });
    expect(refused.status).toBe(401);
    expect(errorCode(refused)).toBe("INVALID_CREDENTIALS");

    const again = await keys(["revoke", keyId.key_id.toUpperCase()]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^Already revoked: /);

    const afterwards = await keys(["list", "--customer", customer]);
    expect(afterwards.stdout.trimEnd().split("\n")[1]).toMatch(/\s+\S+Z\s+revoked$/);
  });

  it("says so when a customer has no keys (nothing on stdout) and fails for an unknown key id", async () => {
    const [empty, unknown] = await Promise.all([
      keys(["list", "--customer", randomUUID()]),
      keys(["revoke", randomUUID()]),
    ]);
    expect(empty).toMatchObject({ code: 0, stdout: "" });
    expect(empty.stderr).toMatch(/^No access keys for customer /);
    expect(unknown).toMatchObject({ code: 1, stdout: "" });
    expect(unknown.stderr).toMatch(/^keys: no access key with id /);
  });
});

describe("keys: usage and failures", () => {
  it("prints help on stdout with exit 0", async () => {
    const help = await keys(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run keys -- <command>/);
    for (const word of [
      "create --customer",
      "list --customer",
      "revoke <key id>",
      "--aws",
      "DYNAMODB_ENDPOINT",
    ]) {
      expect(help.stdout).toContain(word);
    }
  });

  // Each case is a Node process compiling the CLI: run a few at a time so a small machine is not swamped.
  it("exits 2 with a message on stderr and nothing on stdout for bad usage", {
    timeout: 90_000,
  }, async () => {
    const customer = randomUUID();
    const cases: [string[], RegExp, Record<string, string | undefined>?][] = [
      [[], /a command is required/],
      [["constructor", "--customer", customer], /unknown command "constructor"/],
      [["create"], /create needs --customer/],
      [["create", "--customer", "not-a-uuid"], /customer id must be a UUID/],
      [["create", "--customer", customer, "--expires-in", "soon"], /--expires-in takes a number of days/],
      [["create", "--customer", customer, "--expires-in", "0"], /expiry must be a number of days/],
      [["create", "--customer", customer, "--colour", "red"], /Unknown option '--colour'/],
      [["revoke"], /revoke needs the key id/],
      [["list", "--customer", customer, "--aws"], /--aws talks to AWS itself/],
      [
        ["list", "--customer", customer, "--aws"],
        /--aws needs TABLE_NAME/,
        { DYNAMODB_ENDPOINT: undefined, AWS_REGION: "eu-west-1", TABLE_NAME: undefined },
      ],
    ];
    const results = await inBatches(cases, ([args, , env]) => keys(args, env));
    results.forEach((result, i) => {
      const [args, message] = cases[i] as [string[], RegExp];
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stdout, args.join(" ")).toBe("");
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr).toContain("npm run keys -- --help");
    });
  });

  it("exits 1 with a clear message when DynamoDB or the table is not there", async () => {
    const customer = randomUUID();
    const [unreachable, noTable] = await Promise.all([
      keys(["create", "--customer", customer], { DYNAMODB_ENDPOINT: "http://127.0.0.1:1" }),
      keys(["create", "--customer", customer], { TABLE_NAME: `missing-${customer.slice(0, 8)}` }),
    ]);
    expect(unreachable).toMatchObject({ code: 1, stdout: "" });
    expect(unreachable.stderr).toMatch(/cannot reach DynamoDB at http:\/\/127\.0\.0\.1:1/);
    expect(noTable).toMatchObject({ code: 1, stdout: "" });
    expect(noTable.stderr).toMatch(/table "missing-[0-9a-f]{8}" does not exist/);
  });
});

describe("keys portal-link", () => {
  it("prints a link alone on stdout whose fragment token signs that customer in once", async () => {
    const customerId = randomUUID();
    const result = await keys([
      "portal-link",
      "--customer",
      customerId,
      "--base-url",
      "https://api.example.com/",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const link = /^https:\/\/api\.example\.com\/portal\/#link=(vbpl_[A-Za-z0-9_-]{43})\n$/.exec(
      result.stdout,
    );
    expect(link, result.stdout).not.toBeNull();
    expect(result.stderr).toContain(customerId);
    const token = link?.[1] as string;
    // The token is not stored as such: only its hash is a key of the table.
    const exchange = await bed.gateway.post("/v1/portal/sessions", { token });
    expect(exchange.status).toBe(201);
    expect((exchange.json as { customer_id: string }).customer_id).toBe(customerId);
    const listed = await keys(["list", "--customer", customerId, "--json"]);
    const sessions = JSON.parse(listed.stdout) as ListedKey[];
    expect(sessions.map((key) => key.name)).toEqual(["portal session"]);
  });

  it("accepts --expires-in 24h, the documented maximum, and the link expires 24 hours later", async () => {
    const customerId = randomUUID();
    const before = Date.now();
    const result = await keys(["portal-link", "--customer", customerId, "--expires-in", "24h"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\/portal\/#link=vbpl_/);
    const until = /until (\S+),/.exec(result.stderr)?.[1];
    const expiresAt = Date.parse(String(until));
    expect(expiresAt - before).toBeGreaterThanOrEqual(24 * 3600 * 1000 - 1000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000);
  });

  it("defaults to the local stack's API and refuses bad durations, URLs and customers", async () => {
    const local = await keys(["portal-link", "--customer", randomUUID(), "--expires-in", "15m"], {
      API_PORT: "3456",
    });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toMatch(/^http:\/\/127\.0\.0\.1:3456\/portal\/#link=vbpl_/);
    const [tooLong, notDuration, badUrl, badCustomer, awsWithoutUrl] = await inBatches(
      [
        ["portal-link", "--customer", randomUUID(), "--expires-in", "25h"],
        ["portal-link", "--customer", randomUUID(), "--expires-in", "soon"],
        ["portal-link", "--customer", randomUUID(), "--base-url", "ftp://x"],
        ["portal-link", "--customer", "not-a-uuid"],
        ["portal-link", "--customer", randomUUID(), "--aws"],
      ],
      (args) => keys(args),
    );
    for (const result of [tooLong, notDuration, badUrl, badCustomer, awsWithoutUrl]) {
      expect(result?.code, result?.stderr).toBe(2);
      expect(result?.stdout).toBe("");
    }
    expect(tooLong?.stderr).toMatch(/within 24 hours/);
    expect(notDuration?.stderr).toMatch(/duration like 15m/);
    expect(awsWithoutUrl?.stderr).toMatch(/--base-url/);
  });
});
