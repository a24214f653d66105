/**
 * The I/O half of the SSRF policy (shared/domain/subscriptions/destination-policy.ts): the system
 * resolver and the connect-time lookup the HTTP sender dials through, so a name rebound between the
 * create-time check and the delivery cannot reach a blocked address.
 */
import { promises as dnsPromises, type LookupAddress, type LookupOptions } from "node:dns";
import type { LookupFunction } from "node:net";
import {
  type AddressResolver,
  type DestinationPolicy,
  resolveAndCheck,
  UnresolvableDestinationError,
} from "../domain/subscriptions/destination-policy.ts";

/** The operating system's resolver (getaddrinfo, /etc/hosts included), every answer in DNS order. */
export const systemResolver: AddressResolver = async (hostname) => {
  const answers = await dnsPromises.lookup(hostname, { all: true, order: "verbatim" });
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function requestedFamily(options: LookupOptions | number | undefined): 0 | 4 | 6 {
  const family = typeof options === "number" ? options : options?.family;
  if (family === 4 || family === "IPv4") return 4;
  if (family === 6 || family === "IPv6") return 6;
  return 0;
}

/**
 * A `lookup` for http.request / net.connect / the Agents: resolves at connect time and fails the
 * connection (error code EBLOCKED, a BlockedDestinationError) when any answer is blocked, so a name
 * rebound between the create-time check and the delivery cannot reach a blocked address. Supports
 * the `{ all: true }` form net uses for happy eyeballs and the single-address form, plus dns.lookup's
 * legacy (hostname, family, cb) and (hostname, cb) spellings.
 */
export function createGuardedLookup(
  policy: DestinationPolicy,
  resolver: AddressResolver = systemResolver,
): LookupFunction {
  const lookup = (
    hostname: string,
    optionsOrCallback: LookupOptions | number | LookupCallback,
    maybeCallback?: LookupCallback,
  ): void => {
    const callback = typeof optionsOrCallback === "function" ? optionsOrCallback : maybeCallback;
    if (callback === undefined) {
      throw new TypeError("lookup requires a callback");
    }
    const options = typeof optionsOrCallback === "function" ? undefined : optionsOrCallback;
    const all = typeof options === "object" && options.all === true;
    const family = requestedFamily(options);

    resolveAndCheck(hostname, policy, resolver).then(
      (addresses) => {
        const wanted = addresses.filter((entry) => family === 0 || entry.family === family);
        const first = wanted[0];
        // The callback runs outside the promise chain so an exception in it is not swallowed as a rejection.
        if (first === undefined) {
          const error: NodeJS.ErrnoException = new UnresolvableDestinationError(hostname, "ENOTFOUND");
          process.nextTick(callback, error, all ? [] : "", family === 0 ? undefined : family);
        } else if (all) {
          const list: LookupAddress[] = wanted.map(({ address, family: f }) => ({ address, family: f }));
          process.nextTick(callback, null, list);
        } else {
          process.nextTick(callback, null, first.address, first.family);
        }
      },
      (error: unknown) => {
        const failure: NodeJS.ErrnoException =
          error instanceof UnresolvableDestinationError && error.cause instanceof Error
            ? (error.cause as NodeJS.ErrnoException)
            : (error as NodeJS.ErrnoException);
        process.nextTick(callback, failure, all ? [] : "");
      },
    );
  };
  return lookup;
}
