import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import os from "node:os";
import path from "node:path";

/**
 * The client's CPU time for one new TLS connection and request to an HTTPS endpoint, measured: the
 * cost bench's receiver speaks plain HTTP on loopback, while customers' endpoints are HTTPS and a
 * delivery function, whose execution environments are many and frozen between invocations, often
 * opens a new connection. A self-signed ECDSA P-256 certificate (what most ACME endpoints serve) from
 * the openssl CLI; the server runs in a child process, so this process's CPU time is the client's:
 * the handshake (key exchange, certificate verification against the given CA), the request and the
 * answer. Returns the CPU of a new-connection request minus that of a request on a kept-alive one.
 */
export async function measureTlsHandshakeCpuMs(connections = 60): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tls-cost-"));
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  const server = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { createServer } from "node:https"; import { readFileSync } from "node:fs";
       const s = createServer({ key: readFileSync(${JSON.stringify(key)}), cert: readFileSync(${JSON.stringify(cert)}) },
         (req, res) => { req.resume(); req.on("end", () => { res.writeHead(204); res.end(); }); });
       s.keepAliveTimeout = 30000;
       s.listen(0, "127.0.0.1", () => process.stdout.write(String(s.address().port) + "\\n"));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    });
    const ca = readFileSync(cert);
    const body = "x".repeat(1000);
    const post = (agent: import("node:https").Agent | false) =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, method: "POST", path: "/", ca, servername: "localhost", agent },
          (res) => {
            res.resume();
            res.on("end", resolve);
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    const cpuOf = async (work: () => Promise<void>, n: number) => {
      for (let i = 0; i < 10; i++) await work(); // warm-up
      const start = process.cpuUsage();
      for (let i = 0; i < n; i++) await work();
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1000 / n;
    };
    const fresh = await cpuOf(() => post(false), connections);
    const { Agent } = await import("node:https");
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const reused = await cpuOf(() => post(keepAlive), connections);
    keepAlive.destroy();
    return Math.max(0, Math.round((fresh - reused) * 100) / 100);
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
