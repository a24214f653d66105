/**
 * Endpoints that are never a webhook target, whatever ALLOWED_CIDRS allows: the system's own
 * services (the local stack's API, EventBridge, DynamoDB and SQS ports), which a subscription could
 * otherwise use to read or write other customers' data through us (config DENIED_DESTINATIONS).
 */
import ipaddr from "ipaddr.js";

export interface ReservedEndpoint {
  /** An address range, e.g. 127.0.0.0/8 or ::1/128. */
  readonly cidr: string;
  readonly port: number;
}

/**
 * Parses `<address or CIDR>:<port>` entries, IPv6 in brackets (`127.0.0.0/8:4012`, `[::1]:4012`,
 * `[::/128]:3000`); a bare address means that one address. Returns the entries and those it could not read.
 */
export function parseReservedEndpoints(entries: readonly string[]): {
  endpoints: ReservedEndpoint[];
  invalid: string[];
} {
  const endpoints: ReservedEndpoint[] = [];
  const invalid: string[] = [];
  for (const entry of entries) {
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(entry);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
      invalid.push(entry);
      continue;
    }
    const cidr = host.includes("/") ? host : `${host}/${host.includes(":") ? 128 : 32}`;
    try {
      ipaddr.parseCIDR(cidr);
      endpoints.push({ cidr, port });
    } catch {
      invalid.push(entry);
    }
  }
  return { endpoints, invalid };
}

/**
 * The entries that keep every loopback spelling of these ports away from webhooks: 127.0.0.0/8,
 * 0.0.0.0/8 (which Linux connects to loopback), ::1 and :: (IPv4-mapped forms are judged as IPv4).
 */
export function loopbackReservedEndpoints(ports: readonly number[]): string[] {
  return ports.flatMap((port) => [
    `127.0.0.0/8:${port}`,
    `0.0.0.0/8:${port}`,
    `[::1/128]:${port}`,
    `[::/128]:${port}`,
  ]);
}
