import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseCommandLine, usageFailure } from "../../scripts/lib/cli.ts";
import { type ChaosOptions, type ChaosResult, runChaos } from "./driver.ts";
import type { FaultRates } from "./faults.ts";
import { type OutageSummary, runOutageStage } from "./outage.ts";

/**
 * `npm run chaos [-- --quick]`: the fault-injection run. Writes bench/results/chaos.json and exits 1
 * when a delivery was lost, the reconciliation does not add up, or the fuzz stage found the router
 * misbehaving.
 */

const USAGE = `Usage: npm run chaos -- [--quick] [options]

  --quick            ≥ 5,000 deliveries (CI); the default run is ≥ 50,000
  --deliveries <n>   expected deliveries (overrides the mode's)
  --seed <n>         seed of the plan and the fault draws (default 1)
  --fuzz <n>         fuzz-stage events (0: none)
  --no-poison        no customer whose routing always fails (skips the router's on-failure path, ~3 min)
  --no-faults        the same run without SDK faults (receivers still misbehave)
  --kills <n>        kill -9 of the whole local stack in the crash stage (default 3 quick, 6 full; 0: no
                     crash stage)
  --no-outage        no outage stage (a customer answering 500 and one black-holing for the whole
                     run, with the in-flight quota scaled down; ~1.5 min quick)
  --only outage      the outage stage alone (no main run, fuzz or crash stage), written to --out
                     (default bench/results/chaos-outage.json)
  --out <file>       where to write the result (default bench/results/chaos.json)
  --verbose          let the functions' logs through`;

/** The default fault mix: rates per call (or per entry / key for partial batch failures). */
export const DEFAULT_RATES: FaultRates = {
  dynamodbThrottle: 0.02,
  sqsError: 0.02,
  sqsBatchEntryFailure: 0.03,
  dynamodbUnprocessedKey: 0.03,
  routerLookup: 0.005,
  routerEnqueue: 0.005,
  deliveryLoad: 0.01,
  deliveryRecord: 0.02,
  deliverySchedule: 0.03,
  resendCrash: 0.03,
  deliverySubscriptionUpdate: 0.05,
  receiveThrottle: 0.02,
  wakeEarly: 0.05,
  deadLetterCrash: 0.2,
};

const DEFAULT_OUT = path.resolve(import.meta.dirname, "../results/chaos.json");
const DEFAULT_OUTAGE_OUT = path.resolve(import.meta.dirname, "../results/chaos-outage.json");

/** The command line: the run's options and where its result goes. */
export function chaosCommandLine(
  argv: readonly string[],
): { options: ChaosOptions; out: string; only: "outage" | undefined } | "help" {
  const { values } = parseCommandLine({
    args: [...argv],
    options: {
      quick: { type: "boolean", default: false },
      deliveries: { type: "string" },
      seed: { type: "string" },
      fuzz: { type: "string" },
      "no-poison": { type: "boolean", default: false },
      "no-faults": { type: "boolean", default: false },
      "no-outage": { type: "boolean", default: false },
      kills: { type: "string" },
      only: { type: "string" },
      out: { type: "string" },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return "help";
  const int = (raw: string | undefined, fallback: number, name: string) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
    return n;
  };
  const quick = values.quick;
  if (values.only !== undefined && values.only !== "outage")
    throw new Error("--only takes one stage: outage");
  if (values.only === "outage" && values["no-outage"])
    throw new Error("--only outage and --no-outage exclude each other");
  const deliveries = int(values.deliveries, quick ? 5_000 : 50_000, "deliveries");
  const rates = values["no-faults"]
    ? Object.fromEntries(Object.keys(DEFAULT_RATES).map((k) => [k, 0]))
    : DEFAULT_RATES;
  const options: ChaosOptions = {
    mode: quick ? "quick" : "full",
    targetDeliveries: deliveries,
    customers: Math.max(4, Math.round(deliveries / 600)),
    seed: int(values.seed, 1, "seed"),
    rates: rates as unknown as FaultRates,
    poisonEvents: values["no-poison"] ? 0 : quick ? 5 : 20,
    fuzzEvents: int(values.fuzz, quick ? 150 : 600, "fuzz"),
    retrySchedule: [1, 1, 2],
    retryJitter: 0.1,
    deliveryTimeoutMs: 2_000,
    // How soon a job whose invocation failed on our side (an injected fault) comes back. The main
    // stage's settling is a tail of such returns: a job hit by faults in 4–5 receives in a row waits
    // out 4–5 visibility timeouts. 10 s (quick) still leaves 5× one attempt's timeout for a batch
    // (its records run concurrently); the faults and the paths they take are the same, the tail is a
    // third as long (bench/chaos/README.md, "Time").
    visibilityTimeoutSeconds: quick ? 10 : 30,
    deliveryConcurrency: 8,
    blackHoleSeconds: quick ? 20 : 60,
    maxBacklog: 1_500,
    settleTimeoutMs: 300_000,
    progress: (line) => console.log(line),
    verbose: values.verbose,
    // A smaller workload than the main run's: each kill costs a restart (~5–10 s) and its own settling.
    crash: {
      kills: int(values.kills, quick ? 3 : 6, "kills"),
      targetDeliveries: quick ? 1_500 : 10_000,
      customers: quick ? 4 : 12,
    },
    // The in-flight quota and the schedule scaled down together, so that a design holding its waits
    // in flight reaches the quota within the run: the failing customer's jobs waiting out 10 s (20 s)
    // delays at 15 (60) events/s are ~300 (~2,400) messages, at or over the quick (full) quota.
    ...(values["no-outage"]
      ? {}
      : {
          outage: quick
            ? {
                durationS: 12,
                healthyRate: 5,
                healthyCustomers: 3,
                failingRate: 15,
                blackHoleRate: 2,
                inFlightLimit: 300,
                retrySchedule: [1, 10, 10],
                deliveryTimeoutMs: 2_000,
                drainTimeoutMs: 90_000,
              }
            : {
                durationS: 60,
                healthyRate: 10,
                healthyCustomers: 6,
                failingRate: 60,
                blackHoleRate: 5,
                inFlightLimit: 2_000,
                retrySchedule: [2, 20, 20],
                deliveryTimeoutMs: 2_000,
                drainTimeoutMs: 120_000,
              },
        }),
  };
  const only = values.only === "outage" ? "outage" : undefined;
  const out = values.out ?? (only === undefined ? DEFAULT_OUT : DEFAULT_OUTAGE_OUT);
  return { options, out: path.resolve(out), only };
}

function outageLine(outage: OutageSummary): string {
  return `outage: max in flight ${outage.max_in_flight} (bound ${outage.in_flight_bound}, quota ${outage.in_flight_limit}) | healthy p99 ${outage.healthy_p99_ms_with_outage} ms with, ${outage.healthy_p99_ms_alone} ms without (ratio ${outage.healthy_p99_ratio}) | lost ${outage.lost} | internal deaths ${outage.internal_deaths} | attempts per dead delivery ${outage.attempts_per_dead_delivery} (schedule ${outage.schedule_length})`;
}

export function summaryLines(result: ChaosResult): string[] {
  return [
    `expected ${result.expected} | delivered_unique ${result.delivered_unique} | dead_lettered ${result.dead_lettered} | lost ${result.lost}`,
    `duplicates ${result.duplicates} (${result.duplicates_explained} explained by a fault between the HTTP call and its record, ${result.duplicates_unexplained} not)`,
    `faults injected ${result.faults_injected}: ${Object.entries(result.faults)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `delivery records: ${Object.entries(result.records_by_status)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}; records of dead-lettered jobs: ${Object.entries(result.dlq_record_status)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `router on-failure destination: ${result.router_failed.events} events, ${result.router_failed.redriven} re-driven; DLQ ${result.dlq_messages} jobs; unroutable left ${result.unroutable_left}`,
    ...(result.fuzz
      ? [
          `fuzz: ${result.fuzz.generated} events, ${result.fuzz.rejected_by_bus} refused by the bus, ${result.fuzz.delivered}/${result.fuzz.expected_delivered} delivered, ${result.fuzz.unroutable_on_queue}/${result.fuzz.expected_unroutable} parked unroutable, ${result.fuzz.router_invocation_failures} router failures`,
        ]
      : []),
    ...(result.crash
      ? [
          `crash: ${result.crash.kills} kill -9 of the stack (restarts ${result.crash.kill_moments.map((k) => `${k.restart_s} s`).join(", ")}), expected ${result.crash.expected} | delivered_unique ${result.crash.delivered_unique} | dead_lettered ${result.crash.dead_lettered} | lost ${result.crash.lost} | duplicates ${result.crash.duplicates} (${result.crash.duplicates_in_flight_at_kill} in flight at a kill, ${result.crash.duplicates_rerun_after_restart} run again after a restart, ${result.crash.duplicates_unexplained} not explained)`,
        ]
      : []),
    ...(result.outage ? [outageLine(result.outage)] : []),
    `duration ${result.duration_s} s`,
  ];
}

async function main(): Promise<number> {
  let commandLine: ReturnType<typeof chaosCommandLine>;
  try {
    commandLine = chaosCommandLine(process.argv.slice(2));
  } catch (error) {
    return usageFailure(error, USAGE);
  }
  if (commandLine === "help") {
    console.log(USAGE);
    return 0;
  }
  const { options, out, only } = commandLine;
  if (only === "outage" && options.outage !== undefined) {
    const outage = await runOutageStage({ ...options.outage, log: options.progress });
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ outage }, null, 2)}\n`);
    console.log(outageLine(outage));
    for (const warning of outage.warnings) console.log(`warning: ${warning}`);
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
    for (const failure of outage.failures) console.error(`FAILED: ${failure}`);
    return outage.failures.length === 0 ? 0 : 1;
  }
  const result = await runChaos(options);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  for (const line of summaryLines(result)) console.log(line);
  for (const warning of result.warnings) console.log(`warning: ${warning}`);
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
  if (!result.passed) {
    for (const failure of result.failures) console.error(`FAILED: ${failure}`);
    return 1;
  }
  console.log("chaos: no delivery lost; delivered_unique + dead_lettered = expected");
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
