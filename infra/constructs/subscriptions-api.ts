import { createHash } from "node:crypto";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { renderOpenApiDocument } from "#shared/api/openapi.ts";
import { PORTAL_ROUTES } from "#shared/api/portal.ts";
import { ROUTES } from "#shared/api/routes.ts";
import { FUNCTION_MEMORY_MB, FUNCTION_TIMEOUT_SECONDS } from "#shared/resources.ts";
import { materializePortal } from "../../portal/build.ts";
import { type FunctionDefaults, WebhookFunction } from "./webhook-function.ts";
import type { WebhookTable } from "./webhook-table.ts";

/**
 * Every route API Gateway has besides `$default`: the API function's own route table
 * (shared/api/routes.ts), each guarded unless the table says it is public, and the customer portal's
 * static files (docs/portal.md), served by the same function without credentials.
 */
export const GATEWAY_ROUTES: readonly {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  public: boolean;
}[] = [
  ...ROUTES.map((route) => ({ method: route.method, path: route.path, public: !route.auth })),
  ...PORTAL_ROUTES.map((route) => ({ ...route, public: true })),
];

/** Why each public route needs no authorizer (cdk-nag AwsSolutions-APIG4). */
const PUBLIC_ROUTE_REASONS: Readonly<Record<string, string>> = {
  "/openapi.json": "the OpenAPI document of the API, no customer data (PRODUCT §5)",
  "/v1/portal/sessions":
    "the portal-link exchange: the single-use, short-lived link token in the body is the credential (docs/portal.md)",
  "/portal": "the customer portal's static files (HTML, JS, CSS), no customer data (PRODUCT §9)",
  "/portal/{proxy+}": "the customer portal's static files (HTML, JS, CSS), no customer data (PRODUCT §9)",
};

export interface SubscriptionsApiProps {
  readonly table: WebhookTable;
  /** The delivery records' table (docs/data-model.md, "Splitting the delivery records out"). */
  readonly deliveriesTable: WebhookTable;
  /** Test sends, retries and recoveries enqueue delivery jobs here. */
  readonly deliveryQueue: sqs.IQueue;
  /** What every function of the deployment shares. */
  readonly functionDefaults: FunctionDefaults;
  /** Name of the HTTP API. */
  readonly apiName: string;
  /** Name of the access log group. */
  readonly accessLogGroupName: string;
  /**
   * Stage-wide steady-state rate limit (requests per second).
   * @default 100
   */
  readonly rateLimit?: number;
  /**
   * Stage-wide burst limit.
   * @default 200
   */
  readonly burstLimit?: number;
  /**
   * Browser origins allowed by CORS.
   * @default [] (no CORS configuration: the API is called by servers)
   */
  readonly corsAllowedOrigins?: readonly string[];
  /**
   * Retention of the access log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly accessLogRemovalPolicy?: RemovalPolicy;
}

/**
 * Access log line: who called which route and how it went. No query string (it may carry
 * `?accesskey=`) and no header is logged.
 */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: "$context.requestId",
    requestTime: "$context.requestTime",
    sourceIp: "$context.identity.sourceIp",
    userAgent: "$context.identity.userAgent",
    method: "$context.httpMethod",
    routeKey: "$context.routeKey",
    path: "$context.path",
    status: "$context.status",
    protocol: "$context.protocol",
    responseLength: "$context.responseLength",
    responseLatency: "$context.responseLatency",
    integrationLatency: "$context.integrationLatency",
    integrationError: "$context.integrationErrorMessage",
    customerId: "$context.authorizer.customer_id",
    // The authorizer allows every request and passes its verdict on (docs/api.md); `error` is only
    // set when the authorizer itself fails.
    authError: "$context.authorizer.auth_error",
    authorizerError: "$context.authorizer.error",
  }),
);

/**
 * The subscriptions API: an HTTP API whose routes (PRODUCT §5, `ROUTES`) all go to the API function, each
 * guarded by the access-key authorizer except `GET /openapi.json`. A `$default` route (guarded too)
 * sends unknown paths and methods to the API function, so they get its JSON error, not API
 * Gateway's.
 *
 * Authorizer: a Lambda REQUEST authorizer with simple responses. A key comes either in the
 * `Authorization: Bearer` header or in the `accesskey` query parameter. API Gateway would require
 * *every* configured identity source to be present, so none is configured; without identity sources
 * API Gateway cannot cache, so caching is off. Every request is therefore authorised afresh, which
 * also makes a revoked or expired key stop working at once.
 */
export class SubscriptionsApi extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly api: WebhookFunction;
  readonly authorizer: WebhookFunction;
  readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SubscriptionsApiProps) {
    super(scope, id);
    const origins = props.corsAllowedOrigins ?? [];

    this.api = new WebhookFunction(this, "Api", {
      ...props.functionDefaults,
      name: "api",
      description: "voipbin-webhooks subscriptions API (HTTP API v2 payload)",
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.api),
      memorySize: FUNCTION_MEMORY_MB.api,
      // The portal, built from portal/src at synth time, and the OpenAPI document, generated at synth
      // time, beside the bundle (functions/api.ts reads both; the bundle leaves out the generator).
      bundleFolders: { portal: materializePortal(), "openapi.json": materializeOpenApiDocument() },
    });
    this.authorizer = new WebhookFunction(this, "Authorizer", {
      ...props.functionDefaults,
      name: "authorizer",
      description: "voipbin-webhooks access-key authorizer (Bearer header or accesskey query)",
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.authorizer),
      memorySize: FUNCTION_MEMORY_MB.authorizer,
    });

    // What shared/subscriptions and shared/delivery-log call: subscriptions and delivery records by key,
    // a customer's subscriptions (Query), a subscription's delivery log (Query on GSI1), jobs for the
    // test, retry and recover routes; BatchGetItem: the delivery heads of one page of the log. No Scan,
    // no batch or transaction writes.
    props.table.grantTable(
      this.api.role,
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    );
    props.table.grantQueryGsi1(this.api.role);
    // The delivery records: a record by key and its attempts (GetItem, Query), a subscription's log
    // (Query), a test delivery and its body (PutItem, DeleteItem), retries and recoveries (UpdateItem;
    // PutItem moves a record of before the split on its first write); DescribeTable: when the split
    // happened (shared/adapters/dynamodb/delivery-tables.ts).
    props.deliveriesTable.grantTable(
      this.api.role,
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
    );
    props.deliveryQueue.grant(this.api.role, "sqs:SendMessage");
    // The authorizer looks an access key up by the hash of the key: one GetItem.
    props.table.grantTable(this.authorizer.role, "dynamodb:GetItem");

    this.httpApi = new apigw.HttpApi(this, "HttpApi", {
      apiName: props.apiName,
      description: "voipbin-webhooks subscriptions API",
      createDefaultStage: false,
      ...(origins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: [...origins],
              allowMethods: [
                apigw.CorsHttpMethod.GET,
                apigw.CorsHttpMethod.POST,
                apigw.CorsHttpMethod.PATCH,
                apigw.CorsHttpMethod.DELETE,
              ],
              allowHeaders: ["authorization", "content-type"],
              maxAge: Duration.hours(1),
            },
          }
        : {}),
    });

    this.accessLogGroup = new logs.LogGroup(this, "AccessLogs", {
      logGroupName: props.accessLogGroupName,
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH,
      ...(props.accessLogRemovalPolicy === undefined ? {} : { removalPolicy: props.accessLogRemovalPolicy }),
    });
    this.stage = new apigw.HttpStage(this, "DefaultStage", {
      httpApi: this.httpApi,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit ?? 100, burstLimit: props.burstLimit ?? 200 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        format: ACCESS_LOG_FORMAT,
      },
    });

    const integration = new HttpLambdaIntegration("ApiIntegration", this.api.function, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
    });
    const authorizer = new HttpLambdaAuthorizer("AccessKeyAuthorizer", this.authorizer.function, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: [],
      resultsCacheTtl: Duration.seconds(0),
    });

    // The routes the API function dispatches on are the routes API Gateway has (GATEWAY_ROUTES).
    for (const route of GATEWAY_ROUTES) {
      const isPublic = route.public;
      const added = this.httpApi.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration,
        authorizer: isPublic ? new apigw.HttpNoneAuthorizer() : authorizer,
      });
      if (isPublic) {
        for (const publicRoute of added) {
          Validations.of(publicRoute).acknowledge({
            id: "AwsSolutions-APIG4",
            reason: `${route.method} ${route.path} is public by contract: ${PUBLIC_ROUTE_REASONS[route.path] ?? "see docs/api.md"}.`,
          });
        }
      }
    }
    new apigw.HttpRoute(this, "DefaultRoute", {
      httpApi: this.httpApi,
      routeKey: apigw.HttpRouteKey.DEFAULT,
      integration,
      authorizer,
    });
  }

  /** The API's base URL (the `$default` stage). */
  get url(): string {
    return this.stage.url;
  }
}

/**
 * The OpenAPI document (shared/api/openapi.ts) as a file for the API function's asset:
 * `<tmp>/voipbin-openapi-<hash>.json`, written once (renamed into place, so a reader never sees half).
 */
export function materializeOpenApiDocument(): string {
  const text = renderOpenApiDocument();
  const file = path.join(
    tmpdir(),
    `voipbin-openapi-${createHash("sha256").update(text).digest("hex").slice(0, 16)}.json`,
  );
  if (!existsSync(file)) {
    const staging = `${file}.${process.pid}.${Date.now()}`;
    writeFileSync(staging, text);
    renameSync(staging, file);
  }
  return file;
}
