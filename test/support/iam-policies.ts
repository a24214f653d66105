/**
 * What the IAM call check (test/support/iam-check.ts) needs from the synthesized stack, taken once per
 * vitest run by the integration project's global setup (test/integration/global-setup.ts) and handed
 * to every test file with `provide`/`inject`: a synth costs ~3 s of CPU, once per file it was eleven.
 * Only plain JSON crosses: each checked role's identity-policy statements, verbatim, and the logical
 * ids of the tables, queues and bus the statements name.
 */
import type { WebhooksStack } from "../../infra/stack.ts";
import { logicalIdOf, synthesize } from "../infra/app-fixture.ts";

/** A statement of an identity policy, as the template holds it. */
export type PolicyStatement = {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
};

/** The functions whose calls the integration tests check. */
export const CHECKED_ROLES = {
  router: (stack: WebhooksStack) => stack.routing.router.role,
  delivery: (stack: WebhooksStack) => stack.delivery.delivery.role,
  api: (stack: WebhooksStack) => stack.api.api.role,
  authorizer: (stack: WebhooksStack) => stack.api.authorizer.role,
} as const;

export type CheckedRole = keyof typeof CHECKED_ROLES;

/** The template resources a local test resource stands in for. */
export type LocalResource =
  | "table"
  | "deliveriesTable"
  | "deliveryQueue"
  | "unroutableQueue"
  | "deliveryDlq"
  | "deliveryBackstop"
  | "slowDeliveryQueue"
  | "bus";

export interface IamPolicies {
  /** Every statement of every AWS::IAM::Policy attached to the role, in template order. */
  readonly statements: Readonly<Record<CheckedRole, readonly PolicyStatement[]>>;
  /** The template logical id of each resource the tests have a local stand-in for. */
  readonly logicalIds: Readonly<Record<LocalResource, string>>;
}

/** Synthesizes the stack as `npm run synth` builds it (without bundling) and extracts the policies. */
export function synthesizeIamPolicies(): IamPolicies {
  const { stack, template } = synthesize({}, { bundle: false });
  const policies = template.findResources("AWS::IAM::Policy") as Record<
    string,
    { Properties: { Roles: unknown; PolicyDocument: { Statement: PolicyStatement[] } } }
  >;
  const statementsOf = (roleLogicalId: string) =>
    Object.values(policies)
      .filter((policy) =>
        (policy.Properties.Roles as { Ref?: string }[]).some((r) => r.Ref === roleLogicalId),
      )
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
  const roles = Object.keys(CHECKED_ROLES) as CheckedRole[];
  return {
    statements: Object.fromEntries(
      roles.map((role) => [role, statementsOf(logicalIdOf(CHECKED_ROLES[role](stack)))]),
    ) as Record<CheckedRole, PolicyStatement[]>,
    logicalIds: {
      table: logicalIdOf(stack.table.table),
      deliveriesTable: logicalIdOf(stack.deliveriesTable.table),
      deliveryQueue: logicalIdOf(stack.queues.deliveryQueue),
      unroutableQueue: logicalIdOf(stack.queues.unroutableQueue),
      deliveryDlq: logicalIdOf(stack.queues.deliveryDlq),
      deliveryBackstop: logicalIdOf(stack.queues.deliveryBackstop),
      slowDeliveryQueue: logicalIdOf(stack.queues.slowDeliveryQueue),
      bus: logicalIdOf(stack.ingest.bus),
    },
  };
}
