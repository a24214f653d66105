import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type InvocableFunction,
  lambdaInvokeRequestListener,
  MAX_ASYNC_PAYLOAD_BYTES,
} from "../../../local/lambda-api.ts";
import { LOCAL_CREDENTIALS } from "../../../scripts/lib/local-stack.ts";

/**
 * The local Lambda Invoke API, driven by the real SDK client (what `npm run ops` uses): the answers
 * of Lambda's Invoke for each invocation type, a function error, and an unknown function.
 */
let server: Server;
let client: LambdaClient;
const asyncEvents: unknown[] = [];

beforeAll(async () => {
  const router: InvocableFunction = {
    spec: { functionName: "router", awsRegion: "us-east-1", timeoutMs: 1000 },
    handler: async (event) => {
      const e = event as { fail?: boolean; id?: string };
      if (e.fail) throw new TypeError("boom");
      return { kind: "routed", eventId: e.id };
    },
    invokeAsync: async (payload) => {
      asyncEvents.push(JSON.parse(payload));
      return "request-1";
    },
  };
  server = createServer(lambdaInvokeRequestListener(new Map([["router", router]])));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  client = new LambdaClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

const payload = (value: unknown) => Buffer.from(JSON.stringify(value));
const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("utf8");

describe("local Lambda Invoke API", () => {
  it("RequestResponse answers 200 with the function's result", async () => {
    const out = await client.send(
      new InvokeCommand({ FunctionName: "router", Payload: payload({ id: "e-1" }) }),
    );
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe("$LATEST");
    expect(JSON.parse(text(out.Payload))).toEqual({ kind: "routed", eventId: "e-1" });
  });

  it("a function that throws answers 200 with X-Amz-Function-Error and Lambda's error shape", async () => {
    const out = await client.send(
      new InvokeCommand({ FunctionName: "router", Payload: payload({ fail: true }) }),
    );
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe("Unhandled");
    expect(JSON.parse(text(out.Payload))).toEqual(
      expect.objectContaining({ errorType: "TypeError", errorMessage: "boom" }),
    );
  });

  it("Event queues an asynchronous invocation and answers 202; DryRun answers 204", async () => {
    const event = await client.send(
      new InvokeCommand({ FunctionName: "router", InvocationType: "Event", Payload: payload({ id: "e-2" }) }),
    );
    expect(event.StatusCode).toBe(202);
    expect(asyncEvents).toEqual([{ id: "e-2" }]);
    const dry = await client.send(new InvokeCommand({ FunctionName: "router", InvocationType: "DryRun" }));
    expect(dry.StatusCode).toBe(204);
  });

  it("refuses an Event payload over Lambda's asynchronous limit with RequestTooLargeException", async () => {
    const tooBig = JSON.stringify({ id: "big", pad: "x".repeat(MAX_ASYNC_PAYLOAD_BYTES) });
    await expect(
      client.send(
        new InvokeCommand({ FunctionName: "router", InvocationType: "Event", Payload: Buffer.from(tooBig) }),
      ),
    ).rejects.toMatchObject({ name: "RequestTooLargeException", $metadata: { httpStatusCode: 413 } });
    expect(asyncEvents.some((e) => (e as { id?: string }).id === "big")).toBe(false);
  });

  it("accepts the function's ARN, and answers ResourceNotFoundException for another function", async () => {
    const byArn = await client.send(
      new InvokeCommand({
        FunctionName: "arn:aws:lambda:us-east-1:000000000000:function:router",
        Payload: payload({ id: "e-3" }),
      }),
    );
    expect(JSON.parse(text(byArn.Payload))).toEqual({ kind: "routed", eventId: "e-3" });
    await expect(
      client.send(new InvokeCommand({ FunctionName: "delivery", Payload: payload({}) })),
    ).rejects.toThrow(ResourceNotFoundException);
  });
});
