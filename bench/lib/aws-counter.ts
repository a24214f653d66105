import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { FinalizeRequestMiddleware, HandlerExecutionContext } from "@smithy/types";

interface MiddlewareHost {
  middlewareStack: {
    add(
      middleware: FinalizeRequestMiddleware<object, object>,
      options: { step: "finalizeRequest"; name: string; priority: "low" },
    ): void;
  };
}

/** Counts AWS API calls per operation, as billed: one per HTTP request the SDK sends (retries included). */
export class AwsRequestCounter {
  readonly byOperation = new Map<string, number>();

  get total(): number {
    let sum = 0;
    for (const n of this.byOperation.values()) sum += n;
    return sum;
  }

  reset(): void {
    this.byOperation.clear();
  }

  attach(client: DynamoDBClient | SQSClient | EventBridgeClient, service: string): void {
    const middleware: FinalizeRequestMiddleware<object, object> =
      (next, context: HandlerExecutionContext) => async (args) => {
        const key = `${service}.${String(context.commandName ?? "unknown").replace(/Command$/, "")}`;
        this.byOperation.set(key, (this.byOperation.get(key) ?? 0) + 1);
        return next(args);
      };
    // After the retry middleware, so every attempt on the wire is counted.
    (client as unknown as MiddlewareHost).middlewareStack.add(middleware, {
      step: "finalizeRequest",
      name: "benchRequestCounter",
      priority: "low",
    });
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.byOperation.entries()].sort());
  }
}
