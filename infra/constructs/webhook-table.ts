import { RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { TABLE_KEYS } from "#shared/resources.ts";

export interface WebhookTableProps {
  /** Physical table name. */
  readonly tableName: string;
  /**
   * Keep the table (and refuse to delete it) when it leaves the stack, except when the deploy that
   * created it rolls back. Turn off for dev stages only.
   * @default true
   */
  readonly retain?: boolean;
}

/** The DynamoDB actions a function may be granted; anything broader is a review away. */
export type TableAction =
  | "dynamodb:GetItem"
  | "dynamodb:BatchGetItem"
  | "dynamodb:Query"
  | "dynamodb:PutItem"
  | "dynamodb:UpdateItem"
  | "dynamodb:DeleteItem"
  | "dynamodb:BatchWriteItem"
  | "dynamodb:ConditionCheckItem"
  | "dynamodb:TransactWriteItems"
  | "dynamodb:TransactGetItems";

/**
 * The single table of docs/data-model.md (subscriptions, deliveries, access keys), keyed as in
 * `shared/resources.ts` like the local stack's: on-demand, point-in-time recovery, encrypted with
 * the AWS-managed key, expired delivery records removed by TTL.
 */
export class WebhookTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: WebhookTableProps) {
    super(scope, id);
    const retain = props.retain ?? true;
    this.table = new dynamodb.Table(this, "Table", {
      tableName: props.tableName,
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: retain,
      // RetainExceptOnCreate: kept on every later update or delete, but deleted when the deploy that
      // created it rolls back, so that the retried deploy does not find its name taken.
      removalPolicy: retain ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_KEYS.gsi1.indexName,
      partitionKey: { name: TABLE_KEYS.gsi1.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.gsi1.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...TABLE_KEYS.gsi1.projectedAttributes],
    });
  }

  /**
   * Grants exactly these actions on the table itself (no index, no wildcard). `table.grant*` helpers
   * would add `index/*` and actions the function never calls.
   */
  grantTable(grantee: iam.IGrantable, ...actions: TableAction[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.table.tableArn] });
  }

  /** Grants Query on GSI1 only. */
  grantQueryGsi1(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ["dynamodb:Query"],
      resourceArns: [`${this.table.tableArn}/index/${TABLE_KEYS.gsi1.indexName}`],
    });
  }
}
