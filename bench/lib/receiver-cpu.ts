import { spawn } from "node:child_process";

/**
 * The cost bench's receiver runs in the bench's own process, so the process CPU measured around a
 * delivery invocation holds the receiver's work for each request (accepting the connection, parsing
 * the request, answering) besides the delivery function's. This measures that share: a child
 * process sends `requests` requests of about `bytes` bytes (the measured HTTP bytes per attempt) to
 * the receiver, one after another, on new connections or on one kept-alive connection as the
 * delivery function did; this process's CPU between the child's first and last request is the
 * receiver's (nothing else runs here meanwhile). The receiver must answer at once while this runs.
 */
export async function measureReceiverCpuPerRequestMs(options: {
  url: string;
  bytes: number;
  keepAlive: boolean;
  requests: number;
}): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      CLIENT,
      options.url,
      String(options.bytes),
      options.keepAlive ? "1" : "0",
      String(options.requests),
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const cpuNow = () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
  let started: number | undefined;
  let ended: number | undefined;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    if (chunk.includes("S") && started === undefined) started = cpuNow();
    if (chunk.includes("E")) ended = cpuNow();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0 || started === undefined || ended === undefined) {
    throw new Error(`the receiver CPU probe failed (exit ${code})`);
  }
  return (ended - started) / options.requests;
}

/** The probe's client: headers shaped like a delivery's (Standard Webhooks and VoIPBIN's), then a body. */
const CLIENT = `
const http = require("node:http");
const [url, bytes, keep, n] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: keep === "1", maxSockets: 1 });
const headers = {
  "content-type": "application/json",
  "user-agent": "voipbin-webhooks/0.0.0",
  "webhook-id": "msg_" + "a".repeat(32),
  "webhook-timestamp": "1700000000",
  "webhook-signature": "v1," + "A".repeat(44),
  "x-voipbin-signature": "sha256=" + "0".repeat(64),
};
const headerBytes = Object.entries(headers).reduce((t, [k, v]) => t + k.length + v.length + 4, 60);
const body = "x".repeat(Math.max(2, Number(bytes) - headerBytes));
const once = (i) => new Promise((resolve, reject) => {
  const req = http.request(url + "/hook/probe/" + i, {
    method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) },
  }, (res) => { res.resume(); res.on("end", resolve); });
  req.on("error", reject);
  req.end(body);
});
(async () => {
  for (let i = 0; i < 20; i++) await once(i);
  process.stdout.write("S");
  for (let i = 0; i < Number(n); i++) await once(i);
  process.stdout.write("E");
  agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
`;
