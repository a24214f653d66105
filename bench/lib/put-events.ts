import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { fixturePayload } from "./util.ts";

/** Puts events of one customer in PutEvents calls of up to 10 entries; resolves with the put time. */
export async function putEvents(events: EventBridgeClient, customerId: string, benchIds: readonly string[]) {
  const payload = fixturePayload("call_hangup");
  const started = performance.now();
  const response = await events.send(
    new PutEventsCommand({
      Entries: benchIds.map((benchId) => ({
        Source: "voipbin.call-manager",
        DetailType: "call_hangup",
        Detail: JSON.stringify({
          customer_id: customerId,
          data: { ...payload, customer_id: customerId, bench_id: benchId },
        }),
        EventBusName: "voipbin-events",
      })),
    }),
  );
  if ((response.FailedEntryCount ?? 0) > 0)
    throw new Error(`PutEvents refused ${response.FailedEntryCount} entries`);
  return started;
}
