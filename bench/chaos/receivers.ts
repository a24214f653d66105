import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { createRandom, type Random } from "./random.ts";
import { type PairKey, pairKey, type ReceivedDelivery } from "./reconcile.ts";

/**
 * Webhook receivers that misbehave on purpose: real HTTP servers on loopback, one per behaviour
 * profile, each subscription at `/s/<subscription id>`. Every request is read in full, its
 * Standard Webhooks signature verified with the subscription's secret, and recorded under its
 * (event, subscription) pair with its webhook-id. A request counts as acknowledged only when a 2xx
 * response was written completely ('finish'): a timed-out or reset request is not, from the
 * receiver's side either, a delivery.
 */

export interface BehaviourRates {
  /** 500 Internal Server Error. */
  readonly error500?: number;
  /** 503 with Retry-After. */
  readonly error503?: number;
  /** 429 with Retry-After. */
  readonly error429?: number;
  /** No answer at all: the sender's timeout fires. */
  readonly timeout?: number;
  /** The connection is reset after the request was read. */
  readonly reset?: number;
  /** 200 whose body trickles in, finishing well within the sender's timeout. */
  readonly slowBodyOk?: number;
  /** 200 whose body trickles in for longer than the sender's timeout. */
  readonly slowBodyTimeout?: number;
}

export const RECEIVER_PROFILES = {
  healthy: {},
  flaky: { error500: 0.08, error503: 0.08, error429: 0.08 },
  slow: { timeout: 0.04, slowBodyOk: 0.15 },
  resetting: { reset: 0.15 },
  slow_body: { slowBodyOk: 0.2, slowBodyTimeout: 0.04 },
  chaotic: {
    error500: 0.04,
    error503: 0.04,
    error429: 0.04,
    timeout: 0.02,
    reset: 0.04,
    slowBodyOk: 0.05,
    slowBodyTimeout: 0.02,
  },
  /** Fails every request (500, 503, reset in turn): all its deliveries must end dead-lettered. */
  always_failing: { error500: 0.4, error503: 0.3, reset: 0.3 },
  /**
   * Accepts every request and never answers, for the first `blackHoleForMs` of the run, then answers
   * 2xx: a black-holing customer whose deliveries wait (fair delivery's slow lane and breaker) and
   * must all still be delivered or dead-lettered once it recovers — lost = 0 for everyone.
   */
  black_hole: {},
} as const satisfies Record<string, BehaviourRates>;

export type ReceiverProfile = keyof typeof RECEIVER_PROFILES;

type Behaviour =
  | "ok"
  | "error500"
  | "error503"
  | "error429"
  | "timeout"
  | "reset"
  | "slowBodyOk"
  | "slowBodyTimeout";

/** Names under which receiver-side faults are counted in chaos.json. */
const FAULT_NAMES: Record<Exclude<Behaviour, "ok">, string> = {
  error500: "receiver_500",
  error503: "receiver_503_retry_after",
  error429: "receiver_429_retry_after",
  timeout: "receiver_timeout",
  reset: "receiver_connection_reset",
  slowBodyOk: "receiver_slow_body_within_timeout",
  slowBodyTimeout: "receiver_slow_body_past_timeout",
};

interface MutableReceived {
  requests: number;
  acks: number;
  webhookIds: Set<string>;
  /** Requests of this pair being answered right now. */
  open: number;
  /** When each 2xx response was fully written (epoch ms), in order: the crash stage dates duplicates. */
  ackedAt: number[];
}

export interface ReceiverHubOptions {
  readonly profiles: readonly ReceiverProfile[];
  /** The delivery function's DELIVERY_TIMEOUT_MS: slow behaviours are sized against it. */
  readonly senderTimeoutMs: number;
  readonly seed: number;
  /** How long the `black_hole` profile black-holes, from the hub's start. @default 0 */
  readonly blackHoleForMs?: number;
}

export class ReceiverHub {
  readonly received = new Map<PairKey, MutableReceived>();
  /** Receiver-side faults by kind. */
  readonly faults = new Map<string, number>();
  /** Bodies of acknowledged requests of subscriptions registered with keepBodies (the fuzz stage). */
  readonly bodies = new Map<PairKey, string>();
  requests = 0;
  acks = 0;
  signatureFailures = 0;
  /**
   * Requests that arrived while another request of the same delivery was still open: two copies of
   * a job sent at the same moment (e.g. a job whose visibility timeout ran out while it was worked on).
   */
  overlapping = 0;
  /** Requests whose body carried no chaos key, or for an unknown subscription. */
  unattributed = 0;
  lastRequestAt = 0;
  private readonly urls = new Map<ReceiverProfile, string>();
  private readonly servers: Server[] = [];
  private readonly subscriptions = new Map<string, { webhook: Webhook; keepBodies: boolean }>();
  private readonly random: Random;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly blackHoleUntil: number;
  /** Requests the black hole swallowed without answering. */
  blackHoled = 0;

  private constructor(private readonly options: ReceiverHubOptions) {
    this.random = createRandom(options.seed);
    this.blackHoleUntil = Date.now() + (options.blackHoleForMs ?? 0);
  }

  static async start(options: ReceiverHubOptions): Promise<ReceiverHub> {
    const hub = new ReceiverHub(options);
    for (const profile of new Set(options.profiles)) {
      const server = createServer((req, res) => hub.handle(profile, req, res));
      server.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      hub.servers.push(server);
      hub.urls.set(profile, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    return hub;
  }

  urlFor(profile: ReceiverProfile, subscriptionId: string): string {
    const base = this.urls.get(profile);
    if (base === undefined) throw new Error(`no receiver started for profile ${profile}`);
    return `${base}/s/${subscriptionId}`;
  }

  register(subscriptionId: string, secret: string, keepBodies = false): void {
    this.subscriptions.set(subscriptionId, { webhook: new Webhook(secret), keepBodies });
  }

  snapshot(): ReadonlyMap<PairKey, ReceivedDelivery> {
    return this.received;
  }

  faultCounts(): Record<string, number> {
    return Object.fromEntries([...this.faults.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
  }

  private draw(profile: ReceiverProfile): Behaviour {
    if (profile === "black_hole") {
      if (Date.now() >= this.blackHoleUntil) return "ok";
      this.blackHoled++;
      return "timeout";
    }
    const rates: BehaviourRates = RECEIVER_PROFILES[profile];
    let u = this.random.next();
    for (const behaviour of Object.keys(FAULT_NAMES) as Exclude<Behaviour, "ok">[]) {
      const p = rates[behaviour] ?? 0;
      if (u < p) return behaviour;
      u -= p;
    }
    return "ok";
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private handle(profile: ReceiverProfile, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      this.requests++;
      this.lastRequestAt = Date.now();
      const body = Buffer.concat(chunks).toString("utf8");
      const subscriptionId = (req.url ?? "").split("/")[2] ?? "";
      const subscription = this.subscriptions.get(subscriptionId);
      const webhookId = String(req.headers["webhook-id"] ?? "");
      let key: PairKey | undefined;
      try {
        const parsed = JSON.parse(body) as { data?: { chaos_key?: unknown } };
        if (typeof parsed.data?.chaos_key === "string" && subscription) {
          key = pairKey(parsed.data.chaos_key, subscriptionId);
        }
      } catch {
        // an unparseable body is unattributed
      }
      if (subscription) {
        try {
          subscription.webhook.verify(body, {
            "webhook-id": webhookId,
            "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
            "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
          });
        } catch {
          this.signatureFailures++;
        }
      }
      let entry: MutableReceived | undefined;
      if (key === undefined) {
        this.unattributed++;
      } else {
        entry = this.received.get(key);
        if (entry === undefined) {
          entry = { requests: 0, acks: 0, webhookIds: new Set(), open: 0, ackedAt: [] };
          this.received.set(key, entry);
        }
        entry.requests++;
        entry.webhookIds.add(webhookId);
        if (entry.open > 0) this.overlapping++;
        entry.open++;
        const opened = entry;
        res.on("close", () => {
          opened.open--;
        });
      }
      const behaviour = this.draw(profile);
      if (behaviour !== "ok") {
        const name = FAULT_NAMES[behaviour];
        this.faults.set(name, (this.faults.get(name) ?? 0) + 1);
      }
      const acknowledge = () => {
        res.on("finish", () => {
          this.acks++;
          if (entry) {
            entry.acks++;
            entry.ackedAt.push(Date.now());
          }
          if (key !== undefined && subscription?.keepBodies) this.bodies.set(key, body);
        });
      };
      this.respond(behaviour, req, res, acknowledge);
    });
  }

  private respond(behaviour: Behaviour, req: IncomingMessage, res: ServerResponse, ack: () => void): void {
    const timeoutMs = this.options.senderTimeoutMs;
    // Whatever a misbehaving response still holds once the sender has given up is cut, not left open.
    const hangLimitMs = Math.max(10_000, timeoutMs * 5);
    switch (behaviour) {
      case "ok":
        ack();
        res.writeHead(this.random.chance(0.5) ? 200 : 204).end();
        return;
      case "error500":
        res.writeHead(500, { "content-type": "text/plain" }).end("internal error");
        return;
      case "error503":
      case "error429":
        res
          .writeHead(behaviour === "error503" ? 503 : 429, {
            "retry-after": String(1 + this.random.int(2)),
            "content-type": "text/plain",
          })
          .end("try later");
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "timeout":
        this.later(hangLimitMs, () => req.socket.destroy());
        return;
      case "slowBodyOk": {
        ack();
        res.writeHead(200, { "content-type": "text/plain" });
        const step = Math.max(5, Math.floor((timeoutMs * 0.2) / 4));
        let sent = 0;
        const tick = () => {
          if (res.destroyed) return;
          if (++sent >= 4) {
            res.end("done");
            return;
          }
          res.write("chunk ");
          this.later(step, tick);
        };
        this.later(step, tick);
        return;
      }
      case "slowBodyTimeout": {
        res.writeHead(200, { "content-type": "text/plain" });
        const step = Math.max(20, Math.floor(timeoutMs / 5));
        const started = Date.now();
        const tick = () => {
          if (res.destroyed) return;
          if (Date.now() - started > hangLimitMs) {
            req.socket.destroy();
            return;
          }
          res.write(".");
          this.later(step, tick);
        };
        this.later(step, tick);
        return;
      }
    }
  }
}
