import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { DEFAULT_RESOURCE_NAMES } from "#shared/resources.ts";
import { parseCommandLine, usageFailure } from "../scripts/lib/cli.ts";
import { LOCAL_DEFAULTS, LOCAL_HOST, localCredentials } from "../scripts/lib/local-stack.ts";
import {
  emittableTypes,
  LOCAL_SAMPLE_CUSTOMER_ID,
  loadSamples,
  sampleEntry,
  UnknownSampleError,
} from "./samples.ts";

/**
 * `npm run emit -- <sample or event type> [--customer <uuid>] [--activeflow <uuid>] [--count <n>]`:
 * puts a sample VoIPBIN event on the local bus with the AWS SDK, exactly as a VoIPBIN service would.
 */

const USAGE = `Usage: npm run emit -- <sample or event type> [options]

  <sample or event type>  a bundled sample (call_hangup, message_created, …) or any catalogue type
  --customer <uuid>       send it for this customer (default ${LOCAL_SAMPLE_CUSTOMER_ID}, the one
                          the banner of npm start mints a key for)
  --activeflow <uuid>     set data.activeflow_id (for subscriptions filtered on an activeflow)
  --count <n>             put n copies (default 1), in PutEvents calls of up to 10
  --bus <name>            bus name or ARN (default EVENT_BUS_NAME, or ${DEFAULT_RESOURCE_NAMES.eventBus})
  --endpoint <url>        the EventBridge endpoint (default http://${LOCAL_HOST}:EVENTS_PORT, port ${LOCAL_DEFAULTS.EVENTS_PORT})
  --list                  list the samples and types`;

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    return usageFailure(error, USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const samples = loadSamples();
  if (values.list) {
    const { samples: bundled, generated } = emittableTypes(samples);
    console.log(
      `Bundled samples:\n  ${bundled.join("\n  ")}\n\nOther catalogue types (a minimal event is generated):`,
    );
    console.log(`  ${generated.join("\n  ")}`);
    return 0;
  }
  const [name, ...extra] = positionals;
  const count = Number(values.count ?? "1");
  if (name === undefined || extra.length > 0 || !Number.isInteger(count) || count < 1 || count > 10_000) {
    console.error(USAGE);
    return 2;
  }

  let entries: PutEventsRequestEntry[];
  try {
    const bus = values.bus ?? process.env.EVENT_BUS_NAME ?? DEFAULT_RESOURCE_NAMES.eventBus;
    entries = Array.from({ length: count }, () => ({
      EventBusName: bus,
      ...sampleEntry(
        name,
        {
          customerId: values.customer ?? LOCAL_SAMPLE_CUSTOMER_ID,
          ...(values.activeflow ? { activeflowId: values.activeflow } : {}),
        },
        samples,
      ),
    }));
  } catch (error) {
    if (error instanceof UnknownSampleError) {
      console.error(`${error.message}\nnpm run emit -- --list shows what can be emitted.`);
      return 2;
    }
    throw error;
  }

  const endpoint =
    values.endpoint ?? `http://${LOCAL_HOST}:${process.env.EVENTS_PORT || LOCAL_DEFAULTS.EVENTS_PORT}`;
  const client = new EventBridgeClient({
    endpoint,
    region: process.env.AWS_REGION || LOCAL_DEFAULTS.AWS_REGION,
    credentials: localCredentials(endpoint),
    maxAttempts: 1,
  });
  let failed = 0;
  try {
    for (let start = 0; start < entries.length; start += 10) {
      const batch = entries.slice(start, start + 10);
      const response = await client.send(new PutEventsCommand({ Entries: batch }));
      (response.Entries ?? []).forEach((result, i) => {
        const entry = batch[i];
        const customer = entry?.Detail
          ? (JSON.parse(entry.Detail) as { customer_id?: string }).customer_id
          : "";
        if (result.EventId) {
          console.log(
            `${entry?.DetailType} (${entry?.Source}, customer ${customer}) → event ${result.EventId}`,
          );
        } else {
          failed++;
          console.error(`${entry?.DetailType}: ${result.ErrorCode} ${result.ErrorMessage}`);
        }
      });
    }
  } catch (error) {
    const code =
      (error as { code?: string; cause?: { code?: string } }).cause?.code ??
      (error as { code?: string }).code;
    if (code === "ECONNREFUSED") {
      console.error(`Nothing listens on ${endpoint}: start the local stack first (npm start).`);
      return 1;
    }
    throw error;
  } finally {
    client.destroy();
  }
  return failed === 0 ? 0 : 1;
}

function parse() {
  return parseCommandLine({
    allowPositionals: true,
    options: {
      customer: { type: "string" },
      activeflow: { type: "string" },
      count: { type: "string" },
      bus: { type: "string" },
      endpoint: { type: "string" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
