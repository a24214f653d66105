/**
 * The local SQS store's receive path, measured without HTTP: µs per received message (receive of 10
 * and their delete) while the queue holds a backlog, with sleepers in flight and with a noisy
 * message group, and the cost of an empty receive.
 *
 *   npx tsx bench/sqs-store.ts [--json]
 *
 * Not a section of `npm run bench`: it measures one component (docs/local.md, "What the SQS
 * stand-in enforces"), to compare store changes before and after.
 */
import { SqsStore } from "../local/sqs/store.ts";

const REGION = "us-east-1";
const BASE = "http://127.0.0.1:1";
const ROUNDS = 300;
/** Each scenario runs this often; the fastest run counts (the least disturbed by other load). */
const REPEATS = 3;

interface Scenario {
  readonly name: string;
  /** Messages waiting (visible) while receiving. */
  readonly backlog: number;
  /** Messages sleeping in flight (received, long visibility) while receiving. */
  readonly sleepers: number;
  /** Message groups the backlog is spread over; 0 sends without MessageGroupId. */
  readonly groups: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: "nothing else waiting", backlog: 0, sleepers: 0, groups: 0 },
  { name: "6,000 waiting", backlog: 6000, sleepers: 0, groups: 0 },
  { name: "60,000 waiting", backlog: 60_000, sleepers: 0, groups: 0 },
  { name: "6,000 waiting, 6,000 sleeping in flight", backlog: 6000, sleepers: 6000, groups: 0 },
  {
    name: "6,000 waiting over 50 groups, one group with 3,000 in flight",
    backlog: 6000,
    sleepers: 3000,
    groups: 50,
  },
];

function run(scenario: Scenario): { perMessageUs: number; emptyReceiveUs: number } {
  const store = new SqsStore({ file: ":memory:" });
  store.createQueue("q", { VisibilityTimeout: "600" }, REGION, BASE);
  const group = (i: number) => (scenario.groups === 0 ? {} : { MessageGroupId: `g${i % scenario.groups}` });
  for (let i = 0; i < scenario.sleepers; i++)
    store.sendMessage("q", { MessageBody: `s${i}`, MessageGroupId: "g0" });
  for (let received = 0; received < scenario.sleepers; ) {
    received += store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION).length;
  }
  for (let i = 0; i < scenario.backlog; i++) store.sendMessage("q", { MessageBody: `m${i}`, ...group(i) });
  let messages = 0;
  let elapsed = 0n;
  for (let round = 0; round < ROUNDS; round++) {
    // Keep the backlog level: as many in as come out (the sends are not timed).
    for (let i = 0; i < 10; i++)
      store.sendMessage("q", { MessageBody: `r${round}-${i}`, ...group(round * 10 + i) });
    const started = process.hrtime.bigint();
    const batch = store.receiveMessage("q", { MaxNumberOfMessages: 10 }, REGION);
    messages += batch.length;
    store.deleteMessageBatch(
      "q",
      batch.map((m, i) => ({ Id: `e${i}`, ReceiptHandle: m.ReceiptHandle })),
    );
    elapsed += process.hrtime.bigint() - started;
  }
  const perMessageUs = Number(elapsed) / 1000 / messages;
  store.createQueue("empty", {}, REGION, BASE);
  const emptyStarted = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) store.receiveMessage("empty", { MaxNumberOfMessages: 10 }, REGION);
  const emptyReceiveUs = Number(process.hrtime.bigint() - emptyStarted) / 1000 / ROUNDS;
  store.close();
  return { perMessageUs, emptyReceiveUs };
}

const results = SCENARIOS.map((scenario) => {
  const runs = Array.from({ length: REPEATS }, () => run(scenario));
  return {
    scenario: scenario.name,
    perMessageUs: Math.min(...runs.map((r) => r.perMessageUs)),
    emptyReceiveUs: Math.min(...runs.map((r) => r.emptyReceiveUs)),
  };
});
if (process.argv.includes("--json")) console.log(JSON.stringify(results, null, 2));
else
  for (const r of results)
    console.log(
      `${r.scenario.padEnd(64)} ${r.perMessageUs.toFixed(1).padStart(8)} µs/message (receive+delete); empty receive ${r.emptyReceiveUs.toFixed(1)} µs`,
    );
