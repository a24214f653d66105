import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callApi,
  killAllStacks,
  mintKey,
  REPO_ROOT,
  type RunningStack,
  startStack,
} from "../support/e2e-stack.ts";
import { type Receiver, type RecordedRequest, startReceiver } from "../support/receiver.ts";

/**
 * The Go emitter (examples/go-emitter) and docs/local.md's Go program, built with Debian's Go
 * toolchain and AWS SDK for Go v2 in GOPATH mode (no module proxy is reachable), run against
 * `npm start`: every event they put must reach a subscriber and verify. `.ci/run` installs
 * golang-go and golang-github-aws-aws-sdk-go-v2-dev when `go` is missing.
 */

const run = promisify(execFile);
const EMITTER_DIR = path.join(REPO_ROOT, "examples/go-emitter");
const DEBIAN_GOPATH = "/usr/share/gocode";
const BUILD_TIMEOUT_MS = 240_000;

let work: string;
let stack: RunningStack;
let receiver: Receiver;
let customerId: string;
let secret: string;
let emitterBinary: string;

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: "off",
    // The first entry is a writable scratch; Debian's packages are sources under the second.
    GOPATH: `${path.join(work, "gopath")}:${DEBIAN_GOPATH}`,
    GOPROXY: "off",
    GOFLAGS: "",
    GOCACHE: process.env.GOCACHE ?? path.join(tmpdir(), "voipbin-webhooks-gocache"),
  };
}

async function goBuild(dir: string, output: string): Promise<void> {
  await run("go", ["build", "-o", output, "."], { cwd: dir, env: goEnv(), timeout: BUILD_TIMEOUT_MS });
}

const awsEnv = () => ({
  ...process.env,
  AWS_ACCESS_KEY_ID: stack.stackKey,
  AWS_SECRET_ACCESS_KEY: "local",
  AWS_REGION: "us-east-1",
  // Never a real account's: the credentials above are the local stack's.
  AWS_PROFILE: "",
  AWS_CONFIG_FILE: "/dev/null",
  AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
});

function runEmitter(input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      emitterBinary,
      ["-endpoint", stack.endpoints.events, "-region", "us-east-1", "-timeout", "60s"],
      { env: awsEnv(), timeout: 90_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") reject(error);
        else resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

const body = (request: RecordedRequest) =>
  JSON.parse(request.body) as { type: string; data: { id: string }; customer_id?: string };

beforeAll(async () => {
  if (
    !existsSync("/usr/bin/go") ||
    !existsSync(path.join(DEBIAN_GOPATH, "src/github.com/aws/aws-sdk-go-v2"))
  ) {
    throw new Error(
      "Debian's Go toolchain and AWS SDK are missing: apt-get install golang-go golang-github-aws-aws-sdk-go-v2-dev (.ci/run does)",
    );
  }
  work = mkdtempSync(path.join(tmpdir(), "go-emitter-"));
  mkdirSync(path.join(work, "gopath"));
  emitterBinary = path.join(work, "go-emitter");
  const [started] = await Promise.all([startStack({ inMemory: true }), goBuild(EMITTER_DIR, emitterBinary)]);
  stack = started;
  receiver = await startReceiver();
  const minted = await mintKey(stack);
  customerId = minted.customerId;
  const created = await callApi<{ secret: string }>(stack, "POST", "/v1/subscriptions", {
    key: minted.key,
    body: { url: `${receiver.url}/hook`, event_types: ["*"] },
  });
  expect(created.status, created.text).toBe(201);
  secret = created.body.secret;
}, BUILD_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await receiver?.close();
  await stack?.interrupt().catch(() => stack.kill());
  killAllStacks();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the Go emitter (examples/go-emitter)", () => {
  it(
    "passes its own Go tests (batching, resend of failed entries only, backoff, 256 KB)",
    async () => {
      const { stdout } = await run("go", ["test", "-count=1", "."], {
        cwd: EMITTER_DIR,
        env: goEnv(),
        timeout: BUILD_TIMEOUT_MS,
      });
      expect(stdout).toMatch(/^ok\s/m);
    },
    BUILD_TIMEOUT_MS,
  );

  it("puts 23 events in requests of 10, refuses one over 256 KB, and every event put arrives verified", async () => {
    const ids: string[] = Array.from({ length: 23 }, () => randomUUID());
    const types = ["call_hangup", "call_created", "message_created"];
    const lines = ids.map((id, i) =>
      JSON.stringify({
        source: "voipbin.call-manager",
        type: types[i % types.length],
        customer_id: customerId,
        data: { id, n: i },
      }),
    );
    // Line 24: an entry EventBridge would refuse (256 KB counts Source + DetailType + Detail).
    const oversized = JSON.stringify({
      source: "voipbin.call-manager",
      type: "call_hangup",
      customer_id: customerId,
      data: { id: randomUUID(), blob: "x".repeat(256 * 1024) },
    });
    const result = await runEmitter(`${[...lines, oversized].join("\n")}\n`);

    expect(result.code, result.stderr).toBe(1);
    const outputs = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { line: number; event_id?: string; error?: string });
    expect(outputs).toHaveLength(24);
    expect(outputs.slice(0, 23).every((o) => typeof o.event_id === "string" && !o.error)).toBe(true);
    expect(outputs[23]).toMatchObject({ line: 24 });
    expect(outputs[23]?.error).toMatch(
      /event 23 \(call_hangup\) is \d+ bytes .* refuses entries over 262144 bytes/,
    );
    expect(result.stderr).toContain("23 put, 1 failed");

    const requests = await receiver.waitForRequests(23, 60_000);
    const delivered = requests.filter((request) => ids.includes(body(request).data.id));
    expect(delivered.map((request) => body(request).data.id).sort()).toEqual([...ids].sort());
    for (const request of delivered) {
      expect(() => new Webhook(secret).verify(request.body, request.headers)).not.toThrow();
      const sent = body(request);
      expect(sent.type).toBe(types[ids.indexOf(sent.data.id) % types.length]);
      // The projection's data arrives as the emitter put it.
      expect(sent.data).toEqual({ id: sent.data.id, n: ids.indexOf(sent.data.id) });
    }
  }, 120_000);

  it("lists every bad input line and sends nothing", async () => {
    const before = receiver.requests.length;
    const result = await runEmitter(
      `${JSON.stringify({ source: "voipbin.call-manager", type: "call_hangup", customer_id: customerId, data: { id: randomUUID() } })}\nnot json\n{"x":\n`,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/line 2: not a JSON event/);
    expect(result.stderr).toMatch(/line 3: not a JSON event/);
    expect(result.stdout).toBe("");
    expect(receiver.requests.length).toBe(before);
  }, 60_000);
});

describe("docs/local.md's Go program", () => {
  it(
    "compiles with Debian's SDK and its event arrives verified",
    async () => {
      const markdown = readFileSync(path.join(REPO_ROOT, "docs/local.md"), "utf8");
      const programs = [...markdown.matchAll(/```go\n([\s\S]*?)```/g)]
        .map((match) => match[1] ?? "")
        .filter((code) => code.startsWith("package main"));
      expect(programs).toHaveLength(1);
      const dir = path.join(work, "doc-snippet");
      mkdirSync(dir);
      writeFileSync(path.join(dir, "main.go"), programs[0] ?? "");
      const binary = path.join(dir, "snippet");
      await goBuild(dir, binary);

      const before = receiver.requests.length;
      const { stdout } = await run(binary, [], {
        env: { ...awsEnv(), EVENTS_PORT: String(stack.ports.events), CUSTOMER_ID: customerId },
        timeout: 60_000,
      });
      expect(stdout.trim()).toMatch(/^\S+$/);
      const requests = await receiver.waitForRequests(before + 1, 60_000);
      const arrived = requests.slice(before).find((request) => body(request).type === "call_hangup");
      expect(arrived).toBeDefined();
      expect(body(arrived as RecordedRequest).data.id).toBe("6e8e2d3a-5b1f-4c8e-9d0a-1f2e3d4c5b6a");
      expect(() =>
        new Webhook(secret).verify((arrived as RecordedRequest).body, (arrived as RecordedRequest).headers),
      ).not.toThrow();
    },
    BUILD_TIMEOUT_MS,
  );
});
