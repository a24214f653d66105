import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface CapturedEntry {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly EventBusName?: string;
}

/**
 * Stands in for the EventBridge API in tests that only need to see what the system put on the bus:
 * it speaks PutEvents over AWS's JSON 1.1 protocol, so the real EventBridgeClient talks to it unchanged.
 */
export async function startEventBridgeCapture() {
  const entries: CapturedEntry[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const target = req.headers["x-amz-target"];
      if (target !== "AWSEvents.PutEvents") {
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify({ __type: "UnknownOperationException", message: String(target) }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { Entries: CapturedEntry[] };
      entries.push(...body.Entries);
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(
        JSON.stringify({ FailedEntryCount: 0, Entries: body.Entries.map(() => ({ EventId: randomUUID() })) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    entries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
