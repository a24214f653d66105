import { RemovalPolicy, Validations } from "aws-cdk-lib";
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
  /**
   * Point-in-time recovery (billed per GB-month of the whole table).
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;
  /**
   * Why point-in-time recovery is off by design (the deliveries table), acknowledged for cdk-nag's
   * AwsSolutions-DDB3 on this table only. Unset: off only by the operator's choice.
   */
  readonly pointInTimeRecoveryOffReason?: string;
  /**
   * GSI1 (the log of layouts 1 and 2, a customer's access keys). The deliveries table has none: layout
   * 3's log is a base-table Query.
   * @default true
   */
  readonly gsi1?: boolean;
  /**
   * Provisioned capacity with auto scaling (table and GSI1 alike) instead of on-demand.
   * @default - on-demand (PAY_PER_REQUEST)
   */
  readonly capacity?: ProvisionedCapacity;
  /**
   * Warm throughput: what the table (and GSI1) can take at once from its first second, for a launch.
   * @default - DynamoDB's default
   */
  readonly warmThroughput?: dynamodb.WarmThroughput;
}

/** Provisioned capacity: auto scaling bounds and target, for reads and writes. */
export interface ProvisionedCapacity {
  readonly targetUtilizationPercent: number;
  readonly minWriteCapacity: number;
  readonly maxWriteCapacity: number;
  readonly minReadCapacity: number;
  readonly maxReadCapacity: number;
}

/** The DynamoDB actions a function may be granted; anything broader is a review away. */
export type TableAction =
  | "dynamodb:GetItem"
  | "dynamodb:BatchGetItem"
  | "dynamodb:Query"
  | "dynamodb:Scan"
  | "dynamodb:PutItem"
  | "dynamodb:UpdateItem"
  | "dynamodb:DeleteItem"
  | "dynamodb:BatchWriteItem"
  | "dynamodb:ConditionCheckItem"
  | "dynamodb:TransactWriteItems"
  | "dynamodb:TransactGetItems"
  /** The deliveries table's creation time: when the split happened (shared/adapters/dynamodb/delivery-tables.ts). */
  | "dynamodb:DescribeTable";

/**
 * The single table of docs/data-model.md (subscriptions, deliveries, access keys), keyed as in
 * `shared/resources.ts` like the local stack's: on-demand, point-in-time recovery, encrypted with
 * the AWS-managed key, expired delivery records removed by TTL. Provisioned capacity with target
 * tracking auto scaling is a deployment choice (docs/deploy.md, "Capacity: on-demand or provisioned");
 * a throttled request is retried by the SDK and then fails the job on our side, which never counts
 * as an attempt (docs/delivery.md), and raises the `TableThrottled` alarm.
 */
export class WebhookTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: WebhookTableProps) {
    super(scope, id);
    const retain = props.retain ?? true;
    const capacity = props.capacity;
    this.table = new dynamodb.Table(this, "Table", {
      tableName: props.tableName,
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      ...(capacity === undefined
        ? { billingMode: dynamodb.BillingMode.PAY_PER_REQUEST }
        : {
            billingMode: dynamodb.BillingMode.PROVISIONED,
            readCapacity: capacity.minReadCapacity,
            writeCapacity: capacity.minWriteCapacity,
          }),
      ...(props.warmThroughput === undefined ? {} : { warmThroughput: props.warmThroughput }),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: retain,
      // RetainExceptOnCreate: kept on every later update or delete, but deleted when the deploy that
      // created it rolls back, so that the retried deploy does not find its name taken.
      removalPolicy: retain ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE : RemovalPolicy.DESTROY,
    });
    if (props.pointInTimeRecovery === false) {
      Validations.of(this.table).acknowledge({
        id: "AwsSolutions-DDB3",
        reason:
          props.pointInTimeRecoveryOffReason ??
          "Point-in-time recovery turned off by the operator (pointInTimeRecovery=false): the delivery records are in a table of their own without it, and this table holds what an operator must be able to recover; docs/decisions.md.",
      });
    }
    if (props.gsi1 === false) {
      if (capacity !== undefined) this.autoScale(capacity, false);
      return;
    }
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_KEYS.gsi1.indexName,
      partitionKey: { name: TABLE_KEYS.gsi1.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.gsi1.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...TABLE_KEYS.gsi1.projectedAttributes],
      ...(capacity === undefined
        ? {}
        : { readCapacity: capacity.minReadCapacity, writeCapacity: capacity.minWriteCapacity }),
      ...(props.warmThroughput === undefined ? {} : { warmThroughput: props.warmThroughput }),
    });
    if (capacity !== undefined) this.autoScale(capacity, true);
  }

  /**
   * Target tracking on consumed/provisioned utilisation, for the table and for GSI1: GSI1 receives a
   * copy of every indexed write, and a GSI short of capacity throttles the table's writes too
   * (DynamoDB Developer Guide, "GSI write throttling and back pressure").
   */
  private autoScale(capacity: ProvisionedCapacity, withIndex: boolean): void {
    const target = { targetUtilizationPercent: capacity.targetUtilizationPercent };
    const writes = { minCapacity: capacity.minWriteCapacity, maxCapacity: capacity.maxWriteCapacity };
    const reads = { minCapacity: capacity.minReadCapacity, maxCapacity: capacity.maxReadCapacity };
    this.table.autoScaleWriteCapacity(writes).scaleOnUtilization(target);
    this.table.autoScaleReadCapacity(reads).scaleOnUtilization(target);
    if (!withIndex) return;
    this.table
      .autoScaleGlobalSecondaryIndexWriteCapacity(TABLE_KEYS.gsi1.indexName, writes)
      .scaleOnUtilization(target);
    this.table
      .autoScaleGlobalSecondaryIndexReadCapacity(TABLE_KEYS.gsi1.indexName, reads)
      .scaleOnUtilization(target);
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
