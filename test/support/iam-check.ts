/**
 * AWS's IAM rule, enforced where the emulators cannot: the local DynamoDB and SQS answer every call,
 * while on AWS a call the function's role does not allow fails with AccessDenied. A recorder on the
 * clients a function really uses (a middleware on their stacks) notes each call as the IAM action it
 * needs and the resource it names; `missingGrants` compares them with the role's statements in the
 * synthesized template.
 *
 * The action and resource each API call needs, as the Service Authorization Reference lists them
 * ("Actions, resources, and condition keys for Amazon DynamoDB" / "... Amazon SQS"):
 * - DynamoDB: an operation's action has the operation's name (dynamodb:GetItem, dynamodb:Query...) on
 *   the table's ARN; a Query or Scan on an index needs the index's ARN (`table/<t>/index/<i>`);
 *   BatchGetItem/BatchWriteItem need their action on every table of RequestItems; TransactWriteItems
 *   and TransactGetItems need the action of each item (PutItem, UpdateItem, DeleteItem,
 *   ConditionCheckItem, GetItem) on its table.
 * - SQS: SendMessageBatch is authorised by sqs:SendMessage, DeleteMessageBatch by sqs:DeleteMessage,
 *   ChangeMessageVisibilityBatch by sqs:ChangeMessageVisibility, on the queue's ARN.
 * Not checked: condition keys, resource policies, KMS, and calls the tests never drive.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { inject } from "vitest";
import type { TestEnvironment } from "./aws-env.ts";
import type { CheckedRole, LocalResource, PolicyStatement } from "./iam-policies.ts";

/** One call as IAM sees it: `dynamodb:GetItem` on `table:<local name>` (or `.../index/<name>`, `queue:<name>`). */
export interface Needed {
  readonly action: string;
  readonly resource: string;
}

type Input = Record<string, unknown>;

const TRANSACT_ACTIONS: Record<string, string> = {
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  ConditionCheck: "ConditionCheckItem",
  Get: "GetItem",
};

const SQS_ACTIONS: Record<string, string> = {
  SendMessageBatch: "SendMessage",
  DeleteMessageBatch: "DeleteMessage",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibility",
};

/** What a DynamoDB operation needs, from its name and input. */
export function dynamoNeeds(operation: string, input: Input): Needed[] {
  const table = (name: unknown) => `table:${String(name)}`;
  if (operation === "BatchGetItem" || operation === "BatchWriteItem")
    return Object.keys((input.RequestItems as Input | undefined) ?? {}).map((name) => ({
      action: `dynamodb:${operation}`,
      resource: table(name),
    }));
  if (operation === "TransactWriteItems" || operation === "TransactGetItems")
    return ((input.TransactItems as Input[] | undefined) ?? []).flatMap((item) =>
      Object.entries(item).map(([kind, body]) => ({
        action: `dynamodb:${TRANSACT_ACTIONS[kind] ?? kind}`,
        resource: table((body as Input).TableName),
      })),
    );
  const index = typeof input.IndexName === "string" ? `/index/${input.IndexName}` : "";
  return [{ action: `dynamodb:${operation}`, resource: `${table(input.TableName)}${index}` }];
}

/** What an SQS operation needs: the queue is the last segment of its URL. */
export function sqsNeeds(operation: string, input: Input): Needed[] {
  const url = String(input.QueueUrl ?? "");
  const name = new URL(url, "http://unknown").pathname.split("/").filter(Boolean).at(-1) ?? url;
  return [{ action: `sqs:${SQS_ACTIONS[operation] ?? operation}`, resource: `queue:${name}` }];
}

interface Stacked {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { input: Input }) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: { input: Input }) => Promise<unknown>,
      options: { step: "initialize"; name: string },
    ): void;
  };
}

/** Records, per client, what each call sends needs from IAM. */
export class IamRecorder {
  readonly needed: Needed[] = [];

  /** A DynamoDB client, or a document client over it (it shares the client's middleware stack). */
  recordDynamoDb<C extends DynamoDBClient | Stacked>(client: C): C {
    this.attach(client as Stacked, dynamoNeeds);
    return client;
  }

  /** PutEvents needs events:PutEvents on each entry's bus. */
  recordEventBridge<C extends EventBridgeClient | Stacked>(client: C): C {
    this.attach(client as Stacked, (operation, input) =>
      ((input.Entries as Input[] | undefined) ?? []).map((entry) => ({
        action: `events:${operation}`,
        resource: `bus:${String(entry.EventBusName ?? "default")}`,
      })),
    );
    return client;
  }

  recordSqs<C extends SQSClient | Stacked>(client: C): C {
    this.attach(client as Stacked, sqsNeeds);
    return client;
  }

  /** Each distinct (action, resource), sorted. */
  distinct(): Needed[] {
    const keys = new Set(this.needed.map((n) => `${n.action} ${n.resource}`));
    return [...keys].sort().map((key) => {
      const [action = "", resource = ""] = key.split(" ");
      return { action, resource };
    });
  }

  private attach(client: Stacked, needs: (operation: string, input: Input) => Needed[]): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        // The document client's commands run the low-level command's handler: PutItemCommand etc.
        const operation = (context.commandName ?? "Unknown").replace(/Command$/, "");
        this.needed.push(...needs(operation, args.input));
        return next(args);
      },
      { step: "initialize", name: "iamRecorder" },
    );
  }
}

/**
 * The (action, resource) pairs a role's identity-policy statements allow, with each resource written
 * the way the recorder writes it: `names` maps a template logical id (table, queue) to
 * `table:<local name>` or `queue:<local name>`. A resource the map does not know stays its JSON (it
 * never matches a call).
 */
export function allowedByStatements(
  statements: readonly PolicyStatement[],
  names: Readonly<Record<string, string>>,
): { action: string; resource: string }[] {
  const allowed: { action: string; resource: string }[] = [];
  for (const statement of statements) {
    // A conditional grant is not an unconditional one: none of these calls meets a condition.
    if (statement.Effect !== "Allow" || statement.Condition !== undefined) continue;
    const actions = [statement.Action].flat();
    const resources = [statement.Resource].flat().map((r) => resourceName(r, names));
    for (const action of actions) for (const resource of resources) allowed.push({ action, resource });
  }
  return allowed;
}

function resourceName(resource: unknown, names: Readonly<Record<string, string>>): string {
  const arnOf = (r: unknown): string | undefined => {
    const getAtt = (r as { "Fn::GetAtt"?: [string, string] })["Fn::GetAtt"];
    return getAtt?.[1] === "Arn" ? names[getAtt[0]] : undefined;
  };
  const direct = arnOf(resource);
  if (direct !== undefined) return direct;
  const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  if (join !== undefined && join[0] === "" && join[1].length === 2 && typeof join[1][1] === "string") {
    const base = arnOf(join[1][0]);
    if (base !== undefined) return `${base}${join[1][1]}`;
  }
  return JSON.stringify(resource);
}

/** IAM's action match: case-insensitive, `*` and `?` wildcards. */
function actionMatches(pattern: string, action: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "i").test(action);
}

/**
 * Every needed (action, resource) no allowed pair covers, as a line naming the action and the
 * resource (and the logical id of the template's resource), e.g.
 * `dynamodb:GetItem on table:webhooks-test-… (Table…): not granted`.
 */
export function missingGrants(
  needed: readonly Needed[],
  allowed: readonly { action: string; resource: string }[],
  names: Readonly<Record<string, string>>,
): string[] {
  const logicalIdOf = (resource: string) => {
    const [base = resource] = resource.split("/index/");
    return Object.entries(names).find(([, name]) => name === base)?.[0] ?? "not in the template map";
  };
  return needed
    .filter((n) => !allowed.some((a) => a.resource === n.resource && actionMatches(a.action, n.action)))
    .map((n) => `${n.action} on ${n.resource} (${logicalIdOf(n.resource)}): not granted`);
}

/**
 * Every call `recorder` saw, made against the local environment `env`, that the role does not allow:
 * one line per missing (action, resource), empty when all are granted. The role's statements are the
 * stack's as `npm run synth` builds it, synthesized once per vitest run by the integration project's
 * global setup (test/support/iam-policies.ts).
 */
export function ungrantedCalls(
  recorder: IamRecorder,
  env: Pick<TestEnvironment, "tableName" | "deliveriesTableName" | "queues" | "env">,
  role: CheckedRole,
): string[] {
  const { statements, logicalIds } = inject("iamPolicies");
  const queueName = (url: string) => `queue:${url.split("/").at(-1)}`;
  const local: Record<LocalResource, string> = {
    table: `table:${env.tableName}`,
    deliveriesTable: `table:${env.deliveriesTableName}`,
    deliveryQueue: queueName(env.queues.deliveryQueueUrl),
    unroutableQueue: queueName(env.queues.unroutableQueueUrl),
    deliveryDlq: queueName(env.queues.deliveryDlqUrl),
    deliveryBackstop: queueName(env.queues.deliveryBackstopUrl),
    slowDeliveryQueue: queueName(env.queues.slowDeliveryQueueUrl),
    bus: `bus:${env.env.EVENT_BUS_NAME}`,
  };
  const names = Object.fromEntries(
    (Object.keys(local) as LocalResource[]).map((key) => [logicalIds[key], local[key]]),
  );
  return missingGrants(recorder.distinct(), allowedByStatements(statements[role], names), names);
}
