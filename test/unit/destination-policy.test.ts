import type { LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createGuardedLookup } from "../../shared/adapters/destination-policy.ts";
import {
  type AddressResolver,
  BLOCKED_RANGES,
  BlockedDestinationError,
  checkDestination,
  DestinationPolicy,
  InvalidDestinationError,
  ipFamily,
  ReservedDestinationError,
  type ResolvedAddress,
  resolveAndCheck,
  UnresolvableDestinationError,
} from "../../shared/domain/subscriptions/destination-policy.ts";
import { MAX_URL_LENGTH } from "../../shared/domain/subscriptions/validation.ts";

const strict = new DestinationPolicy({ allowHttp: false, allowedCidrs: [] });
const local = new DestinationPolicy({ allowHttp: true, allowedCidrs: ["127.0.0.0/8", "::1/128"] });

/** [address, substring of the blocking range's description, or null when it may be dialled]. */
const ADDRESSES: readonly [string, string | null][] = [
  ["0.0.0.0", "0.0.0.0/8"],
  ["0.1.2.3", "0.0.0.0/8"],
  ["10.0.0.1", "10.0.0.0/8"],
  ["10.255.255.255", "10.0.0.0/8"],
  ["100.64.0.1", "100.64.0.0/10"],
  ["100.127.255.254", "100.64.0.0/10"],
  ["127.0.0.1", "loopback (127.0.0.0/8)"],
  ["127.255.255.254", "127.0.0.0/8"],
  ["169.254.169.254", "169.254.0.0/16"],
  ["169.254.0.1", "link-local"],
  ["172.16.0.1", "172.16.0.0/12"],
  ["172.31.255.255", "172.16.0.0/12"],
  ["192.0.0.8", "192.0.0.0/24"],
  ["192.0.2.1", "192.0.2.0/24"],
  ["192.88.99.1", "192.88.99.0/24"],
  ["192.168.1.1", "192.168.0.0/16"],
  ["198.18.0.1", "198.18.0.0/15"],
  ["198.19.255.255", "198.18.0.0/15"],
  ["198.51.100.7", "198.51.100.0/24"],
  ["203.0.113.9", "203.0.113.0/24"],
  ["224.0.0.1", "224.0.0.0/4"],
  ["239.255.255.250", "multicast"],
  ["240.0.0.1", "240.0.0.0/4"],
  ["255.255.255.255", "broadcast (255.255.255.255/32)"],
  // IPv6, compressed and expanded
  ["::", "unspecified (::/128)"],
  ["0:0:0:0:0:0:0:0", "::/128"],
  ["::1", "loopback (::1/128)"],
  ["0:0:0:0:0:0:0:1", "::1/128"],
  ["0000:0000:0000:0000:0000:0000:0000:0001", "::1/128"],
  ["::7f00:1", "::/96"],
  ["::127.0.0.1", "::/96"],
  ["::8.8.8.8", "IPv4-compatible (::/96)"],
  ["::ffff:0:8.8.8.8", "::ffff:0:0:0/96"],
  ["64:ff9b::7f00:1", "64:ff9b::/96"],
  ["64:ff9b::8.8.8.8", "64:ff9b::/96"],
  ["64:ff9b:1::1", "64:ff9b:1::/48"],
  ["100::1", "100::/64"],
  ["2001::1", "2001::/23"],
  ["2001:2::1", "2001::/23"],
  ["2001:db8::1", "2001:db8::/32"],
  ["2002:7f00:1::1", "2002::/16"],
  ["fc00::1", "fc00::/7"],
  ["fd12:3456:789a::1", "fc00::/7"],
  ["fe80::1", "fe80::/10"],
  ["fe80::1%eth0", "fe80::/10"],
  ["fec0::1", "fec0::/10"],
  ["ff02::1", "ff00::/8"],
  ["::ffff:0:7f00:1", "::ffff:0:0:0/96"],
  // Reserved space outside 2000::/3 and outside every specific range above: the catch-alls.
  ["1::1", "::/3"],
  ["::2:0:0:1", "::/3"],
  ["1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/3"],
  ["4000::1", "4000::/2"],
  ["7fff::1", "4000::/2"],
  ["8000::1", "8000::/1"],
  ["c000::1", "8000::/1"],
  ["fe00::1", "8000::/1"],
  // Global unicast right next to the reserved and special blocks stays reachable.
  ["2000::1", null],
  ["2001:200::1", null],
  ["3fff:1000::1", null],
  ["3ffe:ffff::1", null],
  ["3fff::1", "3fff::/20"],
  // IPv4-mapped IPv6 is judged as the IPv4 inside
  ["::ffff:127.0.0.1", "loopback (127.0.0.0/8)"],
  ["::ffff:7f00:1", "loopback (127.0.0.0/8)"],
  ["0:0:0:0:0:ffff:7f00:1", "loopback (127.0.0.0/8)"],
  ["::ffff:169.254.169.254", "169.254.0.0/16"],
  ["::ffff:a00:1", "10.0.0.0/8"],
  ["[::1]", "::1/128"],
  // public
  ["8.8.8.8", null],
  ["1.1.1.1", null],
  ["93.184.216.34", null],
  ["100.63.255.255", null],
  ["172.32.0.1", null],
  ["198.20.0.1", null],
  ["2606:4700::1111", null],
  ["2a00:1450:4001:80b::200e", null],
  ["::ffff:8.8.8.8", null],
  // not an address: fail closed
  ["localhost", "not an IP address"],
  ["", "not an IP address"],
];

describe("DestinationPolicy.blockedRange", () => {
  it.each(ADDRESSES)("%s → %s", (address, expected) => {
    const range = strict.blockedRange(address);
    if (expected === null) {
      expect(range).toBeNull();
    } else {
      expect(range).toContain(expected);
    }
  });

  it("refuses all IPv6 space outside global unicast 2000::/3, and only that, sampled every /9", () => {
    for (let hextet = 0; hextet <= 0xffff; hextet += 0x80) {
      // :1:: keeps clear of the specific blocks inside 2000::/3 (2001::/23, 2002::/16, 3fff::/20).
      const address = `${hextet.toString(16)}:1::1`;
      const globalUnicast = hextet >= 0x2000 && hextet < 0x4000;
      if (globalUnicast) expect(strict.blockedRange(address), address).toBeNull();
      else expect(strict.blockedRange(address), address).not.toBeNull();
    }
  });

  it("covers every listed range with a parseable CIDR and a label", () => {
    expect(BLOCKED_RANGES.length).toBeGreaterThanOrEqual(30);
    for (const { cidr, label } of BLOCKED_RANGES) {
      expect(label).not.toBe("");
      expect(cidr).toMatch(/\/\d+$/);
    }
  });

  it("lets the allow-list override the block list, and only for what it lists", () => {
    expect(local.blockedRange("127.0.0.1")).toBeNull();
    expect(local.blockedRange("127.9.9.9")).toBeNull();
    expect(local.blockedRange("::1")).toBeNull();
    expect(local.blockedRange("::ffff:127.0.0.1")).toBeNull();
    expect(local.blockedRange("10.0.0.1")).toContain("10.0.0.0/8");
    expect(local.blockedRange("169.254.169.254")).toContain("169.254.0.0/16");
    expect(local.blockedRange("64:ff9b::7f00:1")).toContain("NAT64");
  });

  it("applies an allow-list entry written as IPv4-mapped IPv6 to the IPv4 address", () => {
    const policy = new DestinationPolicy({ allowHttp: false, allowedCidrs: ["::ffff:10.1.0.0/112"] });
    expect(policy.blockedRange("10.1.2.3")).toBeNull();
    expect(policy.blockedRange("::ffff:10.1.2.3")).toBeNull();
    expect(policy.blockedRange("10.2.0.1")).toContain("10.0.0.0/8");
  });

  it("does not read an IPv4-compatible allow-list entry as IPv4-mapped", () => {
    // ipaddr.js alone parses ::a.b.c.d as ::ffff:a.b.c.d; this entry must not open 10.1.2.3.
    const policy = new DestinationPolicy({ allowHttp: false, allowedCidrs: ["::10.1.2.3/128"] });
    expect(policy.blockedRange("10.1.2.3")).toContain("10.0.0.0/8");
    expect(policy.blockedRange("::10.1.2.3")).toBeNull();
  });
});

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidDestinationError) return `invalid:${error.code}`;
    if (error instanceof BlockedDestinationError) return `blocked:${error.range}`;
    throw error;
  }
  return "ok";
}

/** [url, policy, expected: "ok" | "invalid:<code>" | "blocked:<substring of range>"]. */
const URLS: readonly [string, DestinationPolicy, string][] = [
  ["https://example.com/hook", strict, "ok"],
  ["https://93.184.216.34/hook", strict, "ok"],
  ["https://[2606:4700::1111]/hook", strict, "ok"],
  ["https://example.com:8443/hook?x=1#frag", strict, "ok"],
  ["http://example.com/hook", strict, "invalid:http_not_allowed"],
  ["http://example.com/hook", local, "ok"],
  ["ftp://example.com/hook", strict, "invalid:unsupported_scheme"],
  ["file:///etc/passwd", local, "invalid:unsupported_scheme"],
  ["gopher://example.com/", local, "invalid:unsupported_scheme"],
  ["javascript:alert(1)", local, "invalid:unsupported_scheme"],
  ["ws://example.com/", local, "invalid:unsupported_scheme"],
  ["not a url", strict, "invalid:invalid_url"],
  ["/relative/path", strict, "invalid:invalid_url"],
  ["https://", strict, "invalid:invalid_url"],
  ["https://user:pass@example.com/", strict, "invalid:userinfo_not_allowed"],
  ["https://user@example.com/", strict, "invalid:userinfo_not_allowed"],
  ["https://:pass@example.com/", strict, "invalid:userinfo_not_allowed"],
  [`https://example.com/${"a".repeat(MAX_URL_LENGTH)}`, strict, "invalid:url_too_long"],
  // literal hosts, including the spellings the WHATWG parser folds into dotted decimal
  ["https://127.0.0.1/", strict, "blocked:127.0.0.0/8"],
  ["https://0x7f.1/", strict, "blocked:127.0.0.0/8"],
  ["https://0x7f000001/", strict, "blocked:127.0.0.0/8"],
  ["https://2130706433/", strict, "blocked:127.0.0.0/8"],
  ["https://017700000001/", strict, "blocked:127.0.0.0/8"],
  ["https://0177.0.0.1/", strict, "blocked:127.0.0.0/8"],
  ["https://127.1/", strict, "blocked:127.0.0.0/8"],
  ["https://127.0.0.1./", strict, "blocked:127.0.0.0/8"],
  ["https://127.0.0.%31/", strict, "blocked:127.0.0.0/8"],
  ["https://０x7f.1/", strict, "blocked:127.0.0.0/8"],
  ["https://0/", strict, "blocked:0.0.0.0/8"],
  ["https://169.254.169.254/latest/meta-data/", strict, "blocked:169.254.0.0/16"],
  ["https://2852039166/", strict, "blocked:169.254.0.0/16"],
  ["https://10.0.0.1:8443/", strict, "blocked:10.0.0.0/8"],
  ["https://[::1]/", strict, "blocked:::1/128"],
  ["https://[0:0:0:0:0:0:0:1]/", strict, "blocked:::1/128"],
  ["https://[::ffff:127.0.0.1]/", strict, "blocked:127.0.0.0/8"],
  ["https://[::ffff:7f00:1]/", strict, "blocked:127.0.0.0/8"],
  ["https://[64:ff9b::a9fe:a9fe]/", strict, "blocked:64:ff9b::/96"],
  ["https://[fd00::1]/", strict, "blocked:fc00::/7"],
  ["https://[fe80::1]/", strict, "blocked:fe80::/10"],
  // RFC 6761 names, without DNS
  ["https://localhost/", strict, "blocked:loopback"],
  ["https://LOCALHOST:3000/", strict, "blocked:loopback"],
  ["https://localhost./", strict, "blocked:loopback"],
  ["https://foo.localhost/", strict, "blocked:loopback"],
  ["https://a.b.localhost/", strict, "blocked:loopback"],
  ["https://localhost.example.com/", strict, "ok"],
  // the local stack's allow-list lets demos reach loopback, and nothing else
  ["http://127.0.0.1:8080/hook", local, "ok"],
  ["http://[::1]:8080/hook", local, "ok"],
  ["http://localhost:8080/hook", local, "ok"],
  ["http://10.0.0.1/", local, "blocked:10.0.0.0/8"],
];

describe("DestinationPolicy.checkUrl", () => {
  it.each(URLS)("%s → %s", (url, policy, expected) => {
    const actual = reasonOf(() => policy.checkUrl(url));
    const [kind, ...rest] = expected.split(":");
    expect(actual.split(":")[0]).toBe(kind);
    expect(actual).toContain(rest.join(":"));
  });

  it("accepts a URL of exactly the maximum length", () => {
    const base = "https://example.com/";
    const url = base + "a".repeat(MAX_URL_LENGTH - base.length);
    expect(url.length).toBe(MAX_URL_LENGTH);
    expect(strict.checkUrl(url).hostname).toBe("example.com");
  });

  it("returns the parsed URL, the one that must be dialled", () => {
    const url = strict.checkUrl("https://Example.COM:8443/a/../b?q=1");
    expect(url.hostname).toBe("example.com");
    expect(url.port).toBe("8443");
    expect(url.pathname).toBe("/b");
  });

  it("reports the address and range on the error", () => {
    try {
      strict.checkUrl("https://0x7f.1/");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(BlockedDestinationError);
      const blocked = error as BlockedDestinationError;
      expect(blocked.address).toBe("127.0.0.1");
      expect(blocked.range).toBe("loopback (127.0.0.0/8)");
      expect(blocked.code).toBe("EBLOCKED");
    }
  });
});

function fixedResolver(
  answers: Record<string, readonly ResolvedAddress[]>,
): AddressResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const found = answers[hostname];
    if (found === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    }
    return found;
  };
  return Object.assign(resolver, { calls });
}

const resolver = fixedResolver({
  "public.test": [
    { address: "93.184.216.34", family: 4 },
    { address: "2606:4700::1111", family: 6 },
  ],
  "mixed.test": [
    { address: "93.184.216.34", family: 4 },
    { address: "10.0.0.5", family: 4 },
  ],
  "mixed6.test": [
    { address: "93.184.216.34", family: 4 },
    { address: "::ffff:169.254.169.254", family: 6 },
  ],
  "private.test": [{ address: "192.168.0.10", family: 4 }],
  "empty.test": [],
});

describe("resolveAndCheck", () => {
  it("returns every address of a name that resolves only to public addresses", async () => {
    await expect(resolveAndCheck("public.test", strict, resolver)).resolves.toEqual([
      { address: "93.184.216.34", family: 4 },
      { address: "2606:4700::1111", family: 6 },
    ]);
  });

  it("rejects a name when any one of its answers is blocked", async () => {
    await expect(resolveAndCheck("mixed.test", strict, resolver)).rejects.toMatchObject({
      name: "BlockedDestinationError",
      address: "10.0.0.5",
      range: "private (10.0.0.0/8)",
      hostname: "mixed.test",
    });
    await expect(resolveAndCheck("mixed6.test", strict, resolver)).rejects.toBeInstanceOf(
      BlockedDestinationError,
    );
    await expect(resolveAndCheck("private.test", strict, resolver)).rejects.toBeInstanceOf(
      BlockedDestinationError,
    );
  });

  it("does not leak the resolved address of a name into the message", async () => {
    const error = await resolveAndCheck("private.test", strict, resolver).catch((e: unknown) => e);
    expect((error as Error).message).not.toContain("192.168.0.10");
  });

  it("reports names that do not resolve, or resolve to nothing", async () => {
    await expect(resolveAndCheck("nowhere.test", strict, resolver)).rejects.toMatchObject({
      name: "UnresolvableDestinationError",
      code: "ENOTFOUND",
    });
    await expect(resolveAndCheck("empty.test", strict, resolver)).rejects.toBeInstanceOf(
      UnresolvableDestinationError,
    );
  });

  it("judges IP literals and localhost without asking the resolver", async () => {
    const spy = fixedResolver({});
    await expect(resolveAndCheck("8.8.8.8", strict, spy)).resolves.toEqual([
      { address: "8.8.8.8", family: 4 },
    ]);
    await expect(resolveAndCheck("[::1]", strict, spy)).rejects.toBeInstanceOf(BlockedDestinationError);
    await expect(resolveAndCheck("app.localhost", strict, spy)).rejects.toBeInstanceOf(
      BlockedDestinationError,
    );
    await expect(resolveAndCheck("localhost", local, spy)).resolves.toHaveLength(2);
    expect(spy.calls).toEqual([]);
  });

  it("checkDestination runs both the URL and the DNS checks", async () => {
    await expect(checkDestination("https://public.test/x", strict, resolver)).resolves.toMatchObject({
      url: new URL("https://public.test/x"),
    });
    await expect(checkDestination("https://mixed.test/x", strict, resolver)).rejects.toBeInstanceOf(
      BlockedDestinationError,
    );
    await expect(checkDestination("http://public.test/x", strict, resolver)).rejects.toBeInstanceOf(
      InvalidDestinationError,
    );
  });
});

type LookupResult = { err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number };

/** Calls a lookup the way net does and captures what it calls back with. */
function callLookup(lookup: LookupFunction, hostname: string, options: object): Promise<LookupResult> {
  return new Promise((resolve) => {
    lookup(hostname, options, (err, address, family) => resolve({ err, address, family }));
  });
}

describe("createGuardedLookup", () => {
  const lookup = createGuardedLookup(strict, resolver);

  it("answers the all:true form with every address", async () => {
    const result = await callLookup(lookup, "public.test", { all: true, family: 0, hints: 0 });
    expect(result.err).toBeNull();
    expect(result.address).toEqual([
      { address: "93.184.216.34", family: 4 },
      { address: "2606:4700::1111", family: 6 },
    ]);
  });

  it("answers the single-address form with the first address of the requested family", async () => {
    expect(await callLookup(lookup, "public.test", { family: 0 })).toMatchObject({
      err: null,
      address: "93.184.216.34",
      family: 4,
    });
    expect(await callLookup(lookup, "public.test", { family: 6 })).toMatchObject({
      err: null,
      address: "2606:4700::1111",
      family: 6,
    });
    expect(await callLookup(lookup, "public.test", { all: true, family: 4 })).toMatchObject({
      address: [{ address: "93.184.216.34", family: 4 }],
    });
  });

  it("supports dns.lookup's (hostname, callback) and (hostname, family, callback) forms", async () => {
    const loose = lookup as unknown as (host: string, ...rest: unknown[]) => void;
    const twoArgs = await new Promise<unknown[]>((resolve) =>
      loose("public.test", (...args: unknown[]) => resolve(args)),
    );
    expect(twoArgs).toEqual([null, "93.184.216.34", 4]);
    const family = await new Promise<unknown[]>((resolve) =>
      loose("public.test", 6, (...args: unknown[]) => resolve(args)),
    );
    expect(family).toEqual([null, "2606:4700::1111", 6]);
  });

  it("fails with EBLOCKED when any answer is blocked, in both forms", async () => {
    for (const options of [{ all: true }, { family: 4 }, {}]) {
      const result = await callLookup(lookup, "mixed.test", options);
      expect(result.err).toBeInstanceOf(BlockedDestinationError);
      expect(result.err?.code).toBe("EBLOCKED");
    }
  });

  it("checks the other family's answers even when only one family is requested", async () => {
    const result = await callLookup(lookup, "mixed6.test", { family: 4 });
    expect(result.err?.code).toBe("EBLOCKED");
  });

  it("passes the resolver's own error through, so net reports a DNS failure", async () => {
    const result = await callLookup(lookup, "nowhere.test", { all: true });
    expect(result.err?.code).toBe("ENOTFOUND");
  });

  it("resolves again on every call (no caching that rebinding could exploit)", async () => {
    let calls = 0;
    const rebinding: AddressResolver = async () => {
      calls += 1;
      return [{ address: calls === 1 ? "93.184.216.34" : "127.0.0.1", family: 4 }];
    };
    const rebindingLookup = createGuardedLookup(strict, rebinding);
    expect((await callLookup(rebindingLookup, "rebind.test", { all: true })).err).toBeNull();
    expect((await callLookup(rebindingLookup, "rebind.test", { all: true })).err?.code).toBe("EBLOCKED");
  });
});

describe("the port a URL without one is checked at", () => {
  const reserving = (port: number) =>
    new DestinationPolicy({
      allowHttp: true,
      allowedCidrs: ["127.0.0.0/8", "93.184.215.0/24"],
      reservedEndpoints: [
        { cidr: "127.0.0.1/32", port },
        { cidr: "93.184.215.14/32", port },
      ],
    });
  const byName: AddressResolver = async () => [{ address: "93.184.215.14", family: 4 }];

  it("is 80 for http:// (a reserved endpoint on port 80 is refused, on another port it is not)", async () => {
    expect(() => reserving(80).checkUrl("http://127.0.0.1/hook")).toThrow(ReservedDestinationError);
    expect(() => reserving(443).checkUrl("http://127.0.0.1/hook")).not.toThrow();
    await expect(checkDestination("http://hooks.test/", reserving(80), byName)).rejects.toThrow(
      ReservedDestinationError,
    );
    await expect(checkDestination("http://hooks.test/", reserving(443), byName)).resolves.toBeDefined();
  });

  it("is 443 for https://, and an explicit port is the one checked", async () => {
    expect(() => reserving(443).checkUrl("https://127.0.0.1/hook")).toThrow(ReservedDestinationError);
    expect(() => reserving(80).checkUrl("https://127.0.0.1/hook")).not.toThrow();
    expect(() => reserving(8080).checkUrl("http://127.0.0.1:8080/")).toThrow(ReservedDestinationError);
    expect(() => reserving(80).checkUrl("http://127.0.0.1:8080/")).not.toThrow();
    await expect(checkDestination("https://hooks.test/", reserving(443), byName)).rejects.toThrow(
      ReservedDestinationError,
    );
  });
});

describe("ipFamily (the domain's isIP)", () => {
  it("answers as node:net's isIP for addresses, near-addresses and names", () => {
    const zone = fc.stringMatching(/^%[0-9a-zA-Z]{1,8}$/);
    const text = fc.oneof(
      fc.ipV4(),
      fc.ipV4Extended(),
      fc.ipV6(),
      fc.tuple(fc.ipV6(), zone).map(([a, z]) => `${a}${z}`),
      fc.ipV4().map((a) => `0${a}`),
      fc.ipV6().map((a) => `[${a}]`),
      fc.domain(),
      fc.stringMatching(/^[0-9a-fA-F:.%]{0,20}$/),
    );
    fc.assert(
      fc.property(text, (t) => {
        expect(ipFamily(t)).toBe(isIP(t));
      }),
      { numRuns: 5_000 },
    );
  });
});

/**
 * The answers a customer gets for a refused URL (the API's 400/422 `code` and message), as a
 * mutation run over shared/ found them unguarded (docs/benchmarks.md, "Mutation testing").
 */
describe("what a refused destination says", () => {
  const refusal = (run: () => unknown): { name: string; code: string; message: string } => {
    try {
      run();
    } catch (error) {
      const { name, code, message } = error as InvalidDestinationError;
      return { name, code, message };
    }
    throw new Error("expected a refusal");
  };

  it("names each URL rule broken, with the scheme this deployment accepts", () => {
    expect(refusal(() => strict.checkUrl(`https://a.example/${"x".repeat(MAX_URL_LENGTH)}`))).toEqual({
      name: "InvalidDestinationError",
      code: "url_too_long",
      message: `URL is longer than ${MAX_URL_LENGTH} characters`,
    });
    expect(refusal(() => strict.checkUrl("/relative"))).toMatchObject({
      code: "invalid_url",
      message: "not an absolute URL",
    });
    expect(refusal(() => strict.checkUrl("http://a.example/"))).toMatchObject({
      code: "http_not_allowed",
      message: "only https:// URLs are accepted",
    });
    expect(refusal(() => strict.checkUrl("ftp://a.example/"))).toMatchObject({
      code: "unsupported_scheme",
      message: "scheme ftp: is not supported; use https://",
    });
    expect(refusal(() => local.checkUrl("ftp://a.example/"))).toMatchObject({
      message: "scheme ftp: is not supported; use https:// or http://",
    });
    expect(refusal(() => strict.checkUrl("https://user:pw@a.example/"))).toMatchObject({
      code: "userinfo_not_allowed",
      message: "URLs must not contain credentials; send them in a custom header",
    });
  });

  it("says which address and range block a literal, and only the range for a name", async () => {
    expect(refusal(() => strict.checkUrl("https://10.0.0.1/"))).toEqual({
      name: "BlockedDestinationError",
      code: "EBLOCKED",
      message: "address 10.0.0.1 is in a blocked range: private (10.0.0.0/8)",
    });
    expect(refusal(() => strict.checkUrl("https://[::1]/")).message).toBe(
      "address ::1 is in a blocked range: loopback (::1/128)",
    );
    await expect(resolveAndCheck("private.test", strict, resolver)).rejects.toThrow(
      "private.test resolves to an address in a blocked range: private (192.168.0.0/16)",
    );
  });

  it("names the system's own endpoint, IPv6 in brackets", () => {
    const reserved = new DestinationPolicy({
      allowHttp: true,
      allowedCidrs: ["::1/128"],
      reservedEndpoints: [{ cidr: "::1/128", port: 4012 }],
    });
    expect(refusal(() => reserved.checkUrl("http://[::1]:4012/"))).toEqual({
      name: "ReservedDestinationError",
      code: "EBLOCKED",
      message:
        "[::1]:4012 is one of this system's own service endpoints (DENIED_DESTINATIONS) and is never a webhook target",
    });
    expect(reserved.isReservedEndpoint("not an address", 4012)).toBe(false);
    expect(reserved.isReservedEndpoint("[::1]", 4012)).toBe(true);
  });

  it("passes the resolver's errno on, ENOTFOUND when it has none", async () => {
    const failing =
      (error: unknown): AddressResolver =>
      async () => {
        throw error;
      };
    const busy = Object.assign(new Error("try again"), { code: "EAI_AGAIN" });
    await expect(resolveAndCheck("a.test", strict, failing(busy))).rejects.toMatchObject({
      code: "EAI_AGAIN",
      message: "a.test does not resolve (EAI_AGAIN)",
      cause: busy,
    });
    await expect(resolveAndCheck("a.test", strict, failing(null))).rejects.toMatchObject({
      code: "ENOTFOUND",
      message: "a.test does not resolve (ENOTFOUND)",
    });
    await expect(resolveAndCheck("a.test", strict, failing({ code: 5 }))).rejects.toMatchObject({
      code: "ENOTFOUND",
    });
    await expect(resolveAndCheck("empty.test", strict, resolver)).rejects.toMatchObject({
      message: "empty.test does not resolve (ENOTFOUND)",
    });
  });

  it("knows localhost names and IP literals without DNS, with their families", () => {
    expect(strict.staticAddressesOf("LocalHost..")).toEqual([
      { address: "127.0.0.1", family: 4 },
      { address: "::1", family: 6 },
    ]);
    expect(strict.staticAddressesOf("[2606:4700::1111]")).toEqual([
      { address: "2606:4700::1111", family: 6 },
    ]);
    expect(strict.staticAddressesOf("93.184.216.34")).toEqual([{ address: "93.184.216.34", family: 4 }]);
    expect(strict.staticAddressesOf("[::1")).toBeNull();
    expect(strict.staticAddressesOf("example.com")).toBeNull();
  });

  it("reads an IPv4-compatible address as IPv6, as the OS dials it, whatever its digits", () => {
    expect(strict.blockedRange("::93.184.216.34")).not.toBeNull();
    expect(strict.blockedRange("::1.2.3.4")).not.toBeNull();
    expect(strict.blockedRange("fe80::1%eth0")).not.toBeNull();
    expect(strict.blockedRange("2606:4700::1111%eth0")).toBeNull();
  });

  it("lets an allow-list entry of all IPv4-mapped space (/96) allow every IPv4 address", () => {
    const policy = new DestinationPolicy({ allowHttp: false, allowedCidrs: ["::ffff:0.0.0.0/96"] });
    expect(policy.blockedRange("10.1.2.3")).toBeNull();
    expect(policy.blockedRange("::1")).not.toBeNull();
  });
});
