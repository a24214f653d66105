/**
 * Operator CLI for access keys (PRODUCT §5): `npm run keys -- create|list|revoke …`.
 *
 * stdout carries only the result a script wants (the new key, alone on one line; the list), so that
 * `KEY=$(npm run --silent keys -- create --customer …)` works; everything meant for people goes to
 * stderr. Exit codes: 0 done, 1 failed (DynamoDB unreachable, no such key), 2 bad usage.
 *
 * Target: the local stack's DynamoDB by default (DYNAMODB_ENDPOINT, else http://127.0.0.1:$DYNAMODB_PORT
 * with DYNAMODB_PORT defaulting to 4011); the real DynamoDB of AWS_REGION only with `--aws`, never
 * because some AWS variable happens to be set (docs/api.md, "Access keys: the operator CLI").
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { AccessKeyRepository } from "#shared/adapters/dynamodb/access-keys.ts";
import { PortalLinkRepository } from "#shared/adapters/dynamodb/portal-links.ts";
import { type AccessKey, accessKeyStatus } from "#shared/domain/access-keys/access-key.ts";
import { CodedError } from "#shared/domain/errors.ts";
import { PORTAL_SESSION_SECONDS, parseLinkDuration } from "#shared/domain/portal/portal-link.ts";
import { DEFAULT_RESOURCE_NAMES } from "#shared/resources.ts";
import {
  type AccessKeyDependencies,
  InvalidAccessKeyRequestError,
  listAccessKeys,
  mintAccessKey,
  revokeAccessKey,
} from "#shared/services/access-keys.ts";
import { mintPortalLink } from "#shared/services/portal-sessions.ts";
import { parseCommandLine, UsageError } from "./lib/cli.ts";
import { LOCAL_DEFAULTS, LOCAL_HOST, localCredentials } from "./lib/local-stack.ts";
import { formatTable } from "./text-table.ts";

const USAGE = `Usage: npm run keys -- <command> [options]

Commands:
  create --customer <uuid> [--name <text>] [--expires-in <days>]
        Mints a key for the customer and prints it, alone, on stdout. It is shown once:
        only its SHA-256 is stored. Example:
          KEY=$(npm run --silent keys -- create --customer 5e4a0680-804e-11ec-8477-2fea5968d85b)
  list --customer <uuid> [--json]
        The customer's keys (id, name, created, expires, revoked, status); never a key or its hash.
  revoke <key id>
        Stops the key at once (the id is the KEY ID column of list). Revoking twice is harmless.
  portal-link --customer <uuid> [--expires-in <duration>] [--base-url <url>]
        Prints a link to the customer portal, alone, on stdout, that signs the customer in once:
        a single-use token in the URL fragment, exchanged for an access key that expires an hour
        later. The link itself expires after --expires-in (15m, 1h, 24h at most; default 1h).
        --base-url is the API's URL (default http://${LOCAL_HOST}:\${API_PORT:-${LOCAL_DEFAULTS.API_PORT}}, the local
        stack; with --aws the stack's ApiUrl output, required). Example:
          npm run --silent keys -- portal-link --customer 5e4a0680-804e-11ec-8477-2fea5968d85b

Target (where the keys live):
  default     the local stack's DynamoDB: DYNAMODB_ENDPOINT, else
              http://${LOCAL_HOST}:\${DYNAMODB_PORT:-${LOCAL_DEFAULTS.DYNAMODB_PORT}}; table TABLE_NAME, else ${DEFAULT_RESOURCE_NAMES.table}
  --aws       the deployed table: DynamoDB of AWS_REGION (or AWS_DEFAULT_REGION) with the usual AWS
              credentials; TABLE_NAME is required (the stack's TableName output)

Options:
  --help, -h  this text

Exit codes: 0 done, 1 failed, 2 bad usage.`;

/** Something the operator asked for could not be done: exit 1 with the message. */
class CommandFailedError extends CodedError {
  override readonly name = "CommandFailedError";
  readonly code = "COMMAND_FAILED";
}

type Command =
  | { readonly kind: "help" }
  | {
      readonly kind: "create";
      readonly customer: string;
      readonly name?: string;
      readonly expiresIn?: number;
    }
  | { readonly kind: "list"; readonly customer: string; readonly json: boolean }
  | { readonly kind: "revoke"; readonly keyId: string }
  | {
      readonly kind: "portal-link";
      readonly customer: string;
      readonly expiresInSeconds?: number;
      readonly baseUrl?: string;
    };

interface ParsedArguments {
  readonly command: Command;
  readonly aws: boolean;
}

function parseArguments(argv: readonly string[]): ParsedArguments {
  // Bad usage (UsageError): exit 2 with the message and a pointer to --help.
  const parsed = parseWithNode(argv);
  const { values, positionals } = parsed;
  const aws = values.aws === true;
  if (values.help === true || positionals[0] === "help") return { command: { kind: "help" }, aws };
  const [verb, ...rest] = positionals;
  if (verb === undefined) throw new UsageError("a command is required: create, list, revoke or portal-link");

  // A Map, not an object literal: a verb like "constructor" must not find Object.prototype's members.
  const allowed = new Map<string, readonly string[]>([
    ["create", ["customer", "name", "expires-in"]],
    ["list", ["customer", "json"]],
    ["revoke", []],
    ["portal-link", ["customer", "expires-in", "base-url"]],
  ]);
  const options = allowed.get(verb);
  if (options === undefined) {
    throw new UsageError(`unknown command "${verb}" (create, list, revoke or portal-link)`);
  }
  for (const option of ["customer", "name", "expires-in", "json", "base-url"] as const) {
    if (values[option] !== undefined && !options.includes(option)) {
      throw new UsageError(`--${option} does not apply to ${verb}`);
    }
  }

  if (verb === "revoke") {
    const [keyId, ...extra] = rest;
    if (keyId === undefined) throw new UsageError("revoke needs the key id: revoke <key id>");
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    return { command: { kind: "revoke", keyId }, aws };
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const customer = values.customer;
  if (customer === undefined) throw new UsageError(`${verb} needs --customer <uuid>`);
  if (verb === "list") return { command: { kind: "list", customer, json: values.json === true }, aws };
  if (verb === "portal-link") return { command: portalLinkCommand(customer, values, aws), aws };

  let expiresIn: number | undefined;
  if (values["expires-in"] !== undefined) {
    const raw = values["expires-in"].trim();
    expiresIn = /^\d+(?:\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
    if (Number.isNaN(expiresIn)) throw new UsageError(`--expires-in takes a number of days, not "${raw}"`);
  }
  return {
    command: {
      kind: "create",
      customer,
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(expiresIn !== undefined ? { expiresIn } : {}),
    },
    aws,
  };
}

function portalLinkCommand(
  customer: string,
  values: { "expires-in"?: string | undefined; "base-url"?: string | undefined },
  aws: boolean,
): Command {
  let expiresInSeconds: number | undefined;
  if (values["expires-in"] !== undefined) {
    expiresInSeconds = parseLinkDuration(values["expires-in"]);
    if (expiresInSeconds === undefined || expiresInSeconds <= 0) {
      throw new UsageError(
        `--expires-in takes a duration like 15m, 1h or 24h, not "${values["expires-in"]}"`,
      );
    }
  }
  const baseUrl = values["base-url"];
  if (baseUrl !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch {
      throw new UsageError(`--base-url is not a URL: "${baseUrl}"`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      throw new UsageError("--base-url must be an http(s):// URL");
    }
  } else if (aws) {
    throw new UsageError("portal-link --aws needs --base-url: the stack's ApiUrl output");
  }
  return {
    kind: "portal-link",
    customer,
    ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
    ...(baseUrl !== undefined ? { baseUrl } : {}),
  };
}

/** `<base>/portal/#link=<token>`: the token in the fragment, which browsers never send to a server. */
function portalUrl(baseUrl: string, token: string): string {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, "");
  return `${base.origin}${prefix}/portal/#link=${token}`;
}

function parseWithNode(argv: readonly string[]) {
  return parseCommandLine({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      customer: { type: "string" },
      name: { type: "string" },
      "expires-in": { type: "string" },
      "base-url": { type: "string" },
      json: { type: "boolean" },
      aws: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

interface Target {
  readonly tableName: string;
  /** Where requests go, for messages: the endpoint URL, or "AWS <region>". */
  readonly description: string;
  readonly client: DynamoDBClient;
}

function resolveTarget(aws: boolean, env: NodeJS.ProcessEnv): Target {
  const tableName = env.TABLE_NAME || undefined;
  if (aws) {
    if (env.DYNAMODB_ENDPOINT) {
      throw new UsageError(
        "--aws talks to AWS itself: unset DYNAMODB_ENDPOINT, or drop --aws for the local stack",
      );
    }
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
    if (!region) throw new UsageError("--aws needs AWS_REGION (the region the stack is deployed in)");
    if (tableName === undefined) {
      throw new UsageError(
        "--aws needs TABLE_NAME: the stack's TableName output (e.g. voipbin-webhooks-prod)",
      );
    }
    return {
      tableName,
      description: `AWS ${region}`,
      client: new DynamoDBClient({ region, maxAttempts: 3 }),
    };
  }
  const port = env.DYNAMODB_PORT || String(LOCAL_DEFAULTS.DYNAMODB_PORT);
  const endpoint = env.DYNAMODB_ENDPOINT || `http://${LOCAL_HOST}:${port}`;
  try {
    new URL(endpoint);
  } catch {
    throw new UsageError(`DYNAMODB_ENDPOINT is not a URL: "${endpoint}"`);
  }
  // The local stack's DynamoDB answers its own key only (local/stack-key.ts), found for its port;
  // fixed credentials also keep the SDK from looking for real ones.
  const credentials = { credentials: localCredentials(endpoint) };
  return {
    tableName: tableName ?? DEFAULT_RESOURCE_NAMES.table,
    description: endpoint,
    client: new DynamoDBClient({
      region: env.AWS_REGION || LOCAL_DEFAULTS.AWS_REGION,
      endpoint,
      maxAttempts: 2,
      ...credentials,
    }),
  };
}

/** One line per failure a person can act on; never an SDK dump (it could quote request data). */
function describeFailure(error: unknown, target: Target): string {
  const name = error instanceof Error ? error.name : typeof error;
  const code = (error as { code?: unknown } | null)?.code;
  if (name === "ResourceNotFoundException") {
    return `table "${target.tableName}" does not exist at ${target.description} (TABLE_NAME)`;
  }
  if (code === "ECONNREFUSED" || name === "ECONNREFUSED" || /ECONNREFUSED/.test(String(error))) {
    return `cannot reach DynamoDB at ${target.description}: is the local stack running (npm start)? Set DYNAMODB_ENDPOINT or use --aws for another target`;
  }
  if (name === "CredentialsProviderError") {
    return `no AWS credentials found for ${target.description} (AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO …)`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `DynamoDB at ${target.description} failed: ${name}: ${message}`;
}

function formatKeys(keys: readonly AccessKey[], now: Date): string {
  return formatTable([
    ["KEY ID", "NAME", "CREATED", "EXPIRES", "REVOKED", "STATUS"],
    ...keys.map((key) => [
      key.key_id,
      key.name ?? "-",
      key.created_at,
      key.expires_at ?? "never",
      key.revoked_at ?? "-",
      accessKeyStatus(key, now),
    ]),
  ]);
}

async function run(command: Exclude<Command, { kind: "help" }>, target: Target): Promise<void> {
  const doc = DynamoDBDocumentClient.from(target.client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const deps: AccessKeyDependencies = { accessKeys: new AccessKeyRepository(doc, target.tableName) };
  const where = `table ${target.tableName} at ${target.description}`;
  switch (command.kind) {
    case "create": {
      const { key, accessKey } = await mintAccessKey(
        { customerId: command.customer, name: command.name, expiresInDays: command.expiresIn },
        deps,
      );
      process.stdout.write(`${key}\n`);
      const expiry = accessKey.expires_at === null ? "never expires" : `expires ${accessKey.expires_at}`;
      process.stderr.write(
        `Created access key ${accessKey.key_id} for customer ${accessKey.customer_id} (${expiry}) in ${where}.\n` +
          "The key is printed once, above; only its SHA-256 is stored.\n",
      );
      return;
    }
    case "list": {
      const now = new Date();
      const keys = await listAccessKeys(command.customer, deps);
      if (command.json) {
        process.stdout.write(
          `${JSON.stringify(keys.map((key) => ({ ...key, status: accessKeyStatus(key, now) })))}\n`,
        );
      } else if (keys.length === 0) {
        process.stderr.write(`No access keys for customer ${command.customer.toLowerCase()} in ${where}.\n`);
      } else {
        process.stdout.write(`${formatKeys(keys, now)}\n`);
      }
      return;
    }
    case "portal-link": {
      const link = await mintPortalLink(
        { customerId: command.customer, expiresInSeconds: command.expiresInSeconds },
        { portalLinks: new PortalLinkRepository(doc, target.tableName), accessKeys: deps.accessKeys },
      );
      const baseUrl =
        command.baseUrl ?? `http://${LOCAL_HOST}:${process.env.API_PORT || String(LOCAL_DEFAULTS.API_PORT)}`;
      process.stdout.write(`${portalUrl(baseUrl, link.token)}\n`);
      process.stderr.write(
        `Portal link for customer ${link.customerId} in ${where}: it works once, until ${link.expiresAt}, ` +
          `and opens a session of ${PORTAL_SESSION_SECONDS / 60} minutes. Send it only to that customer.\n`,
      );
      return;
    }
    case "revoke": {
      const result = await revokeAccessKey(command.keyId, deps);
      if (result.kind === "not_found") {
        throw new CommandFailedError(`no access key with id ${command.keyId.toLowerCase()} in ${where}`);
      }
      const verb = result.kind === "revoked" ? "Revoked" : "Already revoked";
      process.stderr.write(
        `${verb}: access key ${result.key.key_id} of customer ${result.key.customer_id} (revoked at ${result.key.revoked_at}).\n`,
      );
      return;
    }
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ParsedArguments;
  let target: Target;
  try {
    parsed = parseArguments(argv);
    if (parsed.command.kind === "help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    target = resolveTarget(parsed.aws, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`keys: ${error.message}\nRun \`npm run keys -- --help\` for usage.\n`);
    return 2;
  }
  try {
    await run(parsed.command, target);
    return 0;
  } catch (error) {
    if (error instanceof InvalidAccessKeyRequestError) {
      process.stderr.write(`keys: ${error.message}\nRun \`npm run keys -- --help\` for usage.\n`);
      return 2;
    }
    const message = error instanceof CommandFailedError ? error.message : describeFailure(error, target);
    process.stderr.write(`keys: ${message}\n`);
    return 1;
  } finally {
    target.client.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `keys: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
