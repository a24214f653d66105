/**
 * Where webhooks may be sent (PRODUCT §6, SSRF). One policy object answers "may this address be
 * dialled?"; the same answer is applied when a subscription is created or updated (checkUrl +
 * resolveAndCheck) and again at connect time (createGuardedLookup, in
 * shared/adapters/destination-policy.ts), because a name that resolved to a public address yesterday
 * may resolve to 169.254.169.254 by the time we deliver (DNS rebinding). Pure: the resolver is a
 * parameter; the system's and the connect-time lookup are the adapter's.
 */
import ipaddr from "ipaddr.js";
import { CodedError } from "../errors.ts";
import type { ReservedEndpoint } from "../reserved-endpoints.ts";
import { MAX_URL_LENGTH } from "./subscription.ts";

type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Which IP version a string spells (4, 6) or 0: node:net's `isIP` without node:net, so the policy
 * stays in the domain. Dotted-quad IPv4 only (no octal, hex or shortened forms, as `isIP`); IPv6 with
 * an optional zone id. test/unit/destination-policy.test.ts checks it against `isIP`.
 */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return 4;
  const at = text.indexOf("%");
  // A zone id as isIP takes it (letters, digits, `-`, `.`, `:`); ipaddr.js reads zones differently.
  if (at >= 0 && !/^[0-9a-zA-Z.:-]+$/.test(text.slice(at + 1))) return 0;
  return ipaddr.IPv6.isValid(at >= 0 ? text.slice(0, at) : text) ? 6 : 0;
}
type Cidr = [IpAddress, number];

export interface BlockedRange {
  readonly cidr: string;
  readonly label: string;
}

/**
 * Every range a webhook may never reach unless the deployment allows it explicitly. Exported so the
 * docs list exactly what the code enforces. Sources: the IANA IPv4/IPv6 special-purpose registries
 * (RFC 6890 and successors), keeping every block that is not globally reachable or that embeds an
 * IPv4 address we could not otherwise judge.
 */
export const BLOCKED_RANGES: readonly BlockedRange[] = [
  { cidr: "0.0.0.0/8", label: "this network" },
  { cidr: "10.0.0.0/8", label: "private" },
  { cidr: "100.64.0.0/10", label: "carrier-grade NAT" },
  { cidr: "127.0.0.0/8", label: "loopback" },
  { cidr: "169.254.0.0/16", label: "link-local (incl. cloud metadata 169.254.169.254)" },
  { cidr: "172.16.0.0/12", label: "private" },
  { cidr: "192.0.0.0/24", label: "IETF protocol assignments" },
  { cidr: "192.0.2.0/24", label: "documentation (TEST-NET-1)" },
  { cidr: "192.88.99.0/24", label: "6to4 relay anycast" },
  { cidr: "192.168.0.0/16", label: "private" },
  { cidr: "198.18.0.0/15", label: "benchmarking" },
  { cidr: "198.51.100.0/24", label: "documentation (TEST-NET-2)" },
  { cidr: "203.0.113.0/24", label: "documentation (TEST-NET-3)" },
  { cidr: "224.0.0.0/4", label: "multicast" },
  { cidr: "240.0.0.0/4", label: "reserved" },
  { cidr: "255.255.255.255/32", label: "broadcast" },

  { cidr: "::/128", label: "unspecified" },
  { cidr: "::1/128", label: "loopback" },
  { cidr: "::/96", label: "IPv4-compatible" },
  // ::ffff:0:0/96 (IPv4-mapped) is absent on purpose: those addresses are judged as the IPv4 they carry.
  { cidr: "::ffff:0:0:0/96", label: "IPv4-translated (SIIT)" },
  { cidr: "64:ff9b::/96", label: "NAT64" },
  { cidr: "64:ff9b:1::/48", label: "NAT64 (local use)" },
  { cidr: "100::/64", label: "discard-only" },
  { cidr: "2001::/23", label: "IETF protocol assignments (incl. Teredo, benchmarking, ORCHID)" },
  { cidr: "2001:db8::/32", label: "documentation" },
  { cidr: "2002::/16", label: "6to4" },
  { cidr: "3fff::/20", label: "documentation" },
  { cidr: "fc00::/7", label: "unique local" },
  { cidr: "fe80::/10", label: "link-local" },
  { cidr: "fec0::/10", label: "site-local (deprecated)" },
  { cidr: "ff00::/8", label: "multicast" },
  // IANA allocates global unicast only from 2000::/3; anything else is reserved and never a customer
  // endpoint. These catch-alls sit behind the more specific entries above (longest prefix names the range).
  { cidr: "::/3", label: "reserved (outside IPv6 global unicast 2000::/3)" },
  { cidr: "4000::/2", label: "reserved (outside IPv6 global unicast 2000::/3)" },
  { cidr: "8000::/1", label: "reserved (outside IPv6 global unicast 2000::/3)" },
];

/** Longest accepted URL; longer ones are rejected rather than truncated. */

export type InvalidDestinationReason =
  | "invalid_url"
  | "url_too_long"
  | "unsupported_scheme"
  | "http_not_allowed"
  | "userinfo_not_allowed"
  | "missing_host";

/** The URL itself is unacceptable (syntax, scheme, user-info, length), whatever it resolves to. */
export class InvalidDestinationError extends CodedError {
  override readonly name = "InvalidDestinationError";
  constructor(
    readonly code: InvalidDestinationReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The destination is, or resolves to, an address in a blocked range. `code` is errno-style so that
 * it survives being passed through net/http as a lookup error, where callers only see `err.code`.
 */
export class BlockedDestinationError extends CodedError {
  override readonly name = "BlockedDestinationError";
  readonly code = "EBLOCKED";
  constructor(
    readonly address: string,
    readonly range: string,
    readonly hostname: string = address,
  ) {
    super(
      ipFamily(hostname) !== 0
        ? `address ${address} is in a blocked range: ${range}`
        : `${hostname} resolves to an address in a blocked range: ${range}`,
    );
  }
}

/** The host name did not resolve (or resolved to nothing). `code` is the resolver's, e.g. ENOTFOUND. */
export class UnresolvableDestinationError extends CodedError {
  override readonly name = "UnresolvableDestinationError";
  constructor(
    readonly hostname: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`${hostname} does not resolve (${code})`, options);
  }
}

/** The URL points at one of the system's own endpoints (config DENIED_DESTINATIONS). */
export class ReservedDestinationError extends CodedError {
  override readonly name = "ReservedDestinationError";
  /** errno-style, like EBLOCKED, so that it survives net/http as a socket error. */
  readonly code = "EBLOCKED";
  constructor(
    readonly address: string,
    readonly port: number,
  ) {
    super(
      `${address.includes(":") ? `[${address}]` : address}:${port} is one of this system's own service endpoints (DENIED_DESTINATIONS) and is never a webhook target`,
    );
  }
}

export interface DestinationPolicyOptions {
  /** Accept http:// URLs (local stack and tests); production accepts https:// only. */
  readonly allowHttp: boolean;
  /** CIDRs that may be dialled even though a blocked range covers them (config ALLOWED_CIDRS). */
  readonly allowedCidrs: readonly string[];
  /** Address ranges and ports that are never dialled, even inside ALLOWED_CIDRS (config DENIED_DESTINATIONS). */
  readonly reservedEndpoints?: readonly ReservedEndpoint[];
}

interface CompiledRange {
  readonly cidr: Cidr;
  readonly description: string;
}

const IPV4_MAPPED: Cidr = ipaddr.parseCIDR("::ffff:0:0/96");

/**
 * IPv4-mapped addresses are dialled as the IPv4 they carry (a dual-stack socket connecting to
 * ::ffff:127.0.0.1 reaches 127.0.0.1), so they are judged as that IPv4.
 */
function unmap(address: IpAddress): IpAddress {
  return address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

function compileCidr(cidr: string): Cidr {
  const slash = cidr.lastIndexOf("/");
  const [address, prefix] = ipaddr.parseCIDR(
    `${withoutDottedQuad(cidr.slice(0, slash))}${cidr.slice(slash)}`,
  );
  // An allow-list entry written as ::ffff:a.b.c.d/n must match the unmapped IPv4 we compare against.
  if (address.kind() === "ipv6" && prefix >= 96 && address.match(IPV4_MAPPED)) {
    return [(address as ipaddr.IPv6).toIPv4Address(), prefix - 96];
  }
  return [address, prefix];
}

function matches(address: IpAddress, [network, prefix]: Cidr): boolean {
  return address.kind() === network.kind() && address.match(network, prefix);
}

/**
 * Rewrites an IPv6 address's trailing dotted quad as two hex groups. ipaddr.js reads the deprecated
 * IPv4-compatible form `::a.b.c.d` as IPv4-mapped `::ffff:a.b.c.d`, unlike the OS, which would dial
 * `::a.b.c.d` (and so ::8.8.8.8 would pass as 8.8.8.8 instead of falling into ::/96).
 */
function withoutDottedQuad(ipv6: string): string {
  const match = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ipv6);
  if (match === null) {
    return ipv6;
  }
  const [a, b, c, d] = match.slice(2).map(Number) as [number, number, number, number];
  return `${match[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/** Parses an address as resolvers, sockets and URLs spell it: optional brackets, optional zone id. */
function parseAddress(raw: string): IpAddress | null {
  const bare = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  const withoutZone = bare.split("%", 1)[0] ?? bare;
  const family = ipFamily(withoutZone);
  if (family === 0) {
    return null;
  }
  try {
    return ipaddr.parse(family === 6 ? withoutDottedQuad(withoutZone) : withoutZone);
  } catch {
    return null;
  }
}

/** RFC 6761: `localhost` and every name under it are loopback, whatever DNS would say. */
function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.+$/, "");
  return name === "localhost" || name.endsWith(".localhost");
}

const LOCALHOST_ADDRESSES = ["127.0.0.1", "::1"] as const;

/**
 * Exceptions to the URL rules for destinations VoIPBIN configured, not the customer through our API
 * (PRODUCT §11: managed subscriptions): `http://` even where the deployment requires https, and
 * user-info (sent as Basic auth). The address rules (blocked ranges, reserved endpoints) never relax.
 */
export interface UrlRules {
  readonly allowHttp?: boolean;
  readonly allowUserInfo?: boolean;
}

export class DestinationPolicy {
  readonly allowHttp: boolean;
  readonly #blocked: readonly CompiledRange[];
  readonly #allowed: readonly Cidr[];
  readonly #reserved: readonly { readonly cidr: Cidr; readonly port: number }[];

  constructor(options: DestinationPolicyOptions) {
    this.allowHttp = options.allowHttp;
    this.#blocked = BLOCKED_RANGES.map(({ cidr, label }) => ({
      cidr: ipaddr.parseCIDR(cidr),
      description: `${label} (${cidr})`,
    }));
    this.#allowed = options.allowedCidrs.map(compileCidr);
    this.#reserved = (options.reservedEndpoints ?? []).map(({ cidr, port }) => ({
      cidr: compileCidr(cidr),
      port,
    }));
  }

  /** Whether address:port is one of the system's own endpoints (never dialled, whatever else allows it). */
  isReservedEndpoint(address: string, port: number): boolean {
    const parsed = parseAddress(address);
    if (parsed === null) return false;
    const ip = unmap(parsed);
    return this.#reserved.some((entry) => entry.port === port && matches(ip, entry.cidr));
  }

  /** Throws ReservedDestinationError when any address at this port is one of the system's own endpoints. */
  assertNotReserved(addresses: readonly ResolvedAddress[], port: number): void {
    for (const { address } of addresses) {
      if (this.isReservedEndpoint(address, port)) throw new ReservedDestinationError(address, port);
    }
  }

  /**
   * null when the address may be dialled, else a description of the range that blocks it, e.g.
   * "loopback (127.0.0.0/8)". Something that is not an IP address is blocked: failing closed is the
   * only safe answer for a check that guards a socket.
   */
  blockedRange(address: string): string | null {
    const parsed = parseAddress(address);
    if (parsed === null) {
      return "not an IP address";
    }
    const ip = unmap(parsed);
    if (this.#allowed.some((cidr) => matches(ip, cidr))) {
      return null;
    }
    let best: CompiledRange | null = null;
    for (const range of this.#blocked) {
      if (matches(ip, range.cidr) && (best === null || range.cidr[1] > best.cidr[1])) {
        best = range;
      }
    }
    return best?.description ?? null;
  }

  /**
   * Checks what can be checked without DNS and returns the parsed URL, which is what must be dialled
   * (re-parsing could differ). Throws InvalidDestinationError for a bad URL and BlockedDestinationError
   * for an IP-literal or localhost host in a blocked range. Host names still need resolveAndCheck (at
   * create/update time) and the guarded lookup (at connect time).
   */
  checkUrl(url: string, rules: UrlRules = {}): URL {
    if (url.length > MAX_URL_LENGTH) {
      throw new InvalidDestinationError("url_too_long", `URL is longer than ${MAX_URL_LENGTH} characters`);
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InvalidDestinationError("invalid_url", "not an absolute URL");
    }
    if (parsed.protocol === "http:") {
      if (!this.allowHttp && rules.allowHttp !== true) {
        throw new InvalidDestinationError("http_not_allowed", "only https:// URLs are accepted");
      }
    } else if (parsed.protocol !== "https:") {
      throw new InvalidDestinationError(
        "unsupported_scheme",
        // Only what this deployment accepts: a local stack (ALLOW_HTTP_URLS) takes http:// too.
        `scheme ${parsed.protocol} is not supported; use https://${this.allowHttp ? " or http://" : ""}`,
      );
    }
    if ((parsed.username !== "" || parsed.password !== "") && rules.allowUserInfo !== true) {
      // Credentials in URLs end up in logs and the delivery log; custom headers are the place for them.
      throw new InvalidDestinationError(
        "userinfo_not_allowed",
        "URLs must not contain credentials; send them in a custom header",
      );
    }
    if (parsed.hostname === "") {
      throw new InvalidDestinationError("missing_host", "URL has no host");
    }
    this.#checkHostWithoutDns(parsed.hostname, portOf(parsed));
    return parsed;
  }

  /** Addresses a host stands for without asking DNS: an IP literal, or loopback for localhost names. */
  staticAddressesOf(hostname: string): readonly ResolvedAddress[] | null {
    const parsed = parseAddress(hostname);
    if (parsed !== null) {
      const address = parsed.toString();
      return [{ address, family: parsed.kind() === "ipv4" ? 4 : 6 }];
    }
    if (isLocalhostName(hostname)) {
      return LOCALHOST_ADDRESSES.map((address) => ({ address, family: ipFamily(address) === 4 ? 4 : 6 }));
    }
    return null;
  }

  /** Throws BlockedDestinationError when any of the addresses is blocked. */
  assertAllowed(hostname: string, addresses: readonly ResolvedAddress[]): void {
    for (const { address } of addresses) {
      const range = this.blockedRange(address);
      if (range !== null) {
        throw new BlockedDestinationError(address, range, hostname);
      }
    }
  }

  #checkHostWithoutDns(hostname: string, port: number): void {
    const addresses = this.staticAddressesOf(hostname);
    if (addresses !== null) {
      this.assertNotReserved(addresses, port);
      this.assertAllowed(hostname.replace(/^\[|\]$/g, ""), addresses);
    }
  }
}

/** The port a URL dials: its explicit one, else the scheme's. */
export function portOf(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

export type AddressResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

function errnoCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "ENOTFOUND";
}

/**
 * Resolves a host (or takes an IP literal / localhost as is) and returns its addresses, throwing
 * BlockedDestinationError if ANY of them is blocked: a name answering both a public and a private
 * address would otherwise reach the private one whenever the OS prefers it. Throws
 * UnresolvableDestinationError when the name does not resolve.
 */
export async function resolveAndCheck(
  hostname: string,
  policy: DestinationPolicy,
  resolver: AddressResolver,
): Promise<readonly ResolvedAddress[]> {
  const addresses = policy.staticAddressesOf(hostname) ?? (await resolveOrThrow(hostname, resolver));
  policy.assertAllowed(hostname, addresses);
  return addresses;
}

/** checkUrl then resolveAndCheck on its host: the whole create/update-time check of a subscription URL. */
export async function checkDestination(
  url: string,
  policy: DestinationPolicy,
  resolver: AddressResolver,
): Promise<{ url: URL; addresses: readonly ResolvedAddress[] }> {
  const parsed = policy.checkUrl(url);
  const addresses = await resolveAndCheck(parsed.hostname, policy, resolver);
  policy.assertNotReserved(addresses, portOf(parsed));
  return { url: parsed, addresses };
}

async function resolveOrThrow(
  hostname: string,
  resolver: AddressResolver,
): Promise<readonly ResolvedAddress[]> {
  let addresses: readonly ResolvedAddress[];
  try {
    addresses = await resolver(hostname);
  } catch (error) {
    throw new UnresolvableDestinationError(hostname, errnoCode(error), { cause: error });
  }
  if (addresses.length === 0) {
    throw new UnresolvableDestinationError(hostname, "ENOTFOUND");
  }
  return addresses;
}
