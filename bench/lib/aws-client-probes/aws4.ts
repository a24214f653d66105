/**
 * The same PutItem with `aws4` (SigV4 signing of Node request options) over node:http(s): the
 * lighter path of the cold-start section's client comparison (bench/cold-start.ts). The DynamoDB
 * JSON protocol: POST / with `X-Amz-Target: DynamoDB_20120810.<Operation>` and an
 * `application/x-amz-json-1.0` body (DynamoDB API Reference, "DynamoDB low-level API",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.LowLevelAPI.html).
 * Measured, not used by the functions (docs/decisions.md): no retries, no error mapping.
 */
import type * as Http from "node:http";
import { marshall } from "@aws-sdk/util-dynamodb";
import aws4 from "aws4";

// getBuiltinModule, not a static import: node:http's ESM namespace loads undici (docs/decisions.md).
const http = process.getBuiltinModule("node:http") as typeof Http;
const https = process.getBuiltinModule("node:https") as typeof import("node:https");
const region = process.env.AWS_REGION ?? "us-east-1";
const endpoint = new URL(process.env.PROBE_ENDPOINT ?? `https://dynamodb.${region}.amazonaws.com`);
const secure = endpoint.protocol === "https:";
const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });

export async function putItem(table: string, item: Record<string, unknown>): Promise<void> {
  const body = JSON.stringify({ TableName: table, Item: marshall(item) });
  const signed = aws4.sign(
    {
      host: endpoint.host,
      path: "/",
      method: "POST",
      service: "dynamodb",
      region,
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.PutItem",
      },
      body,
    },
    {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "",
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "",
      ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}),
    },
  );
  await new Promise<void>((resolve, reject) => {
    const request = (secure ? https : http).request(
      {
        hostname: endpoint.hostname,
        port: endpoint.port,
        path: "/",
        method: "POST",
        headers: signed.headers as Http.OutgoingHttpHeaders,
        agent,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          if ((response.statusCode ?? 0) === 200) resolve();
          else reject(new Error(`PutItem answered ${response.statusCode}: ${Buffer.concat(chunks)}`));
        });
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
