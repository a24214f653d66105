/**
 * DENIED_DESTINATIONS as an operator writes it (config; shared/domain/reserved-endpoints.ts): which
 * entries are read and as what range, and which are named back as unreadable by the cold-start
 * config error. Written for the mutation run over shared/ (docs/benchmarks.md, "Mutation testing");
 * test/unit/http-sender.test.ts shows a webhook refused at a reserved endpoint.
 */
import { describe, expect, it } from "vitest";
import { loopbackReservedEndpoints, parseReservedEndpoints } from "#shared/domain/reserved-endpoints.ts";

describe("reserved endpoints", () => {
  it("reads addresses, ranges and bracketed IPv6, a bare address meaning that one address", () => {
    expect(
      parseReservedEndpoints(["127.0.0.0/8:4012", "10.1.2.3:1", "[::1]:65535", "[fd00::/8]:3000"]),
    ).toEqual({
      endpoints: [
        { cidr: "127.0.0.0/8", port: 4012 },
        { cidr: "10.1.2.3/32", port: 1 },
        { cidr: "::1/128", port: 65_535 },
        { cidr: "fd00::/8", port: 3000 },
      ],
      invalid: [],
    });
  });

  it("names back every entry it cannot read, keeping the ones it can", () => {
    const bad = [
      "127.0.0.1",
      "127.0.0.1:0",
      "127.0.0.1:65536",
      "127.0.0.1:123456",
      "::1:4012",
      "::127.0.0.1:80",
      "[]:4012",
      "x127.0.0.1:80 ",
      " 127.0.0.1:80",
      "127.0.0.1:80x",
      "not-an-address:80",
      "300.0.0.1:80",
      "127.0.0.0/40:80",
    ];
    expect(parseReservedEndpoints([...bad, "127.0.0.1:80"])).toEqual({
      endpoints: [{ cidr: "127.0.0.1/32", port: 80 }],
      invalid: bad,
    });
  });

  it("reserves every loopback spelling of the stack's own ports", () => {
    expect(loopbackReservedEndpoints([4012])).toEqual([
      "127.0.0.0/8:4012",
      "0.0.0.0/8:4012",
      "[::1/128]:4012",
      "[::/128]:4012",
    ]);
    expect(parseReservedEndpoints(loopbackReservedEndpoints([1, 2])).invalid).toEqual([]);
  });
});
