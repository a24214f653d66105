/**
 * What the optional fixed egress (infra/constructs/fixed-egress.ts) adds to a deployment's bill: NAT
 * gateway hours and Elastic IP (public IPv4) hours per zone, and NAT data processing per delivery.
 * Lambda's own data transfer out to the internet is billed with or without NAT, and DynamoDB goes
 * through a free gateway endpoint, so neither is counted here. List prices as the author knew them
 * (us-east-1); the machine has no web access: re-check against the sources before quoting. Lane
 * "cost" owns the cost model (bench/lib/pricing.ts); these lines are meant to join its price table.
 */
export const EGRESS_PRICES = {
  region: "us-east-1",
  as_of: "2025-06 (list prices; re-check before quoting)",
  nat_gateway_usd_per_hour: 0.045,
  nat_gateway_usd_per_gb_processed: 0.045,
  /** Every public IPv4 address, Elastic IPs in use included, since 2024-02-01. */
  public_ipv4_usd_per_hour: 0.005,
  sources: ["https://aws.amazon.com/vpc/pricing/"],
} as const;

/** Hours in an average month (AWS bills by the hour; 8,760 / 12). */
export const HOURS_PER_MONTH = 730;

/**
 * Bytes one delivery moves through a NAT gateway, both directions, when the connection is new (the
 * delivery function keeps no connection across invocations it can count on): a TLS 1.3 handshake with
 * a typical certificate chain (~5,000 bytes in, ~600 out), request line and headers with the
 * signatures (~900), a VoIPBIN event body (~1,000; PRODUCT §2 samples are 0.5–2 KB) and a short
 * response (~400), plus TCP/IP overhead (~600). A retry costs as much again; SQS calls the function
 * makes on failures (ChangeMessageVisibility, slow-lane SendMessage) add ~2 KB each.
 */
export const NAT_BYTES_PER_DELIVERY = 8_500;

export interface EgressCost {
  readonly azs: number;
  readonly fixed_usd_per_month: number;
  readonly usd_per_million_deliveries_variable: number;
  /** At a given monthly volume: the fixed part spread over it, plus the variable part. */
  readonly usd_per_million_deliveries_at: Readonly<Record<string, number>>;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export function fixedEgressCost(
  azs: number,
  monthlyVolumes: readonly number[] = [1e6, 1e7, 1e8],
  prices = EGRESS_PRICES,
  bytesPerDelivery = NAT_BYTES_PER_DELIVERY,
): EgressCost {
  if (!Number.isInteger(azs) || azs < 1) throw new Error(`azs must be a whole number ≥ 1, not ${azs}`);
  const fixed = azs * HOURS_PER_MONTH * (prices.nat_gateway_usd_per_hour + prices.public_ipv4_usd_per_hour);
  const variable = ((bytesPerDelivery * 1e6) / 1e9) * prices.nat_gateway_usd_per_gb_processed;
  return {
    azs,
    fixed_usd_per_month: round2(fixed),
    usd_per_million_deliveries_variable: round2(variable),
    usd_per_million_deliveries_at: Object.fromEntries(
      monthlyVolumes.map((volume) => [String(volume), round2((fixed / volume) * 1e6 + variable)]),
    ),
  };
}
