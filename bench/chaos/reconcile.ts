/**
 * The reconciliation of a chaos run, as pure functions: what should have been delivered (every
 * (event, subscription) pair the subscriptions match) against what every receiver acknowledged and
 * what ended in the dead-letter queue. No I/O here, so that a loss and a duplicate can be shown to
 * be detected by unit tests.
 *
 * Definitions (docs: the "Reliability (chaos)" section of docs/benchmarks.md):
 * - delivered_unique: expected pairs whose receiver answered 2xx (response fully written) at least once;
 * - duplicates: expected pairs answered 2xx more than once (the same webhook-id acknowledged twice);
 * - dead_lettered: expected pairs never acknowledged whose job is in the dead-letter queue;
 * - held_for_operator: expected pairs of events parked on the router's on-failure destination and not
 *   re-driven (0 when the run re-drives them, as an operator would);
 * - lost: expected pairs in none of the above.
 * The goal is lost = 0 and delivered_unique + dead_lettered = expected.
 */

/** `<event key>|<subscription id>`: one expected delivery. */
export type PairKey = string;

export const pairKey = (eventKey: string, subscriptionId: string): PairKey => `${eventKey}|${subscriptionId}`;

export interface ExpectedDelivery {
  readonly eventKey: string;
  readonly subscriptionId: string;
  /** The receiver behaviour of the subscription (healthy, flaky, …), for the per-profile breakdown. */
  readonly profile: string;
}

/** What receivers saw for one pair. */
export interface ReceivedDelivery {
  /** Requests that reached the receiver (every attempt). */
  readonly requests: number;
  /** Requests answered 2xx with the response fully written. */
  readonly acks: number;
  /** Distinct webhook-id headers seen for this pair (must be exactly one). */
  readonly webhookIds: ReadonlySet<string>;
}

export interface ReconcileInput {
  readonly expected: ReadonlyMap<PairKey, ExpectedDelivery>;
  readonly received: ReadonlyMap<PairKey, ReceivedDelivery>;
  /** Pairs whose delivery job is in the dead-letter queue. */
  readonly deadLettered: ReadonlySet<PairKey>;
  /**
   * Webhook ids whose success was answered by the receiver but whose record write was hit by an
   * injected fault (the one place where the product documents a duplicate).
   */
  readonly faultedAfterHttp: ReadonlySet<string>;
  /** Pairs of events left on the router's on-failure destination (not re-driven). */
  readonly heldForOperator?: ReadonlySet<PairKey>;
}

export interface ProfileCounts {
  expected: number;
  delivered_unique: number;
  dead_lettered: number;
  lost: number;
  duplicates: number;
}

export interface Reconciliation {
  readonly expected: number;
  readonly delivered_unique: number;
  /** Pairs acknowledged more than once. */
  readonly duplicates: number;
  /** Extra acknowledgements beyond the first, summed over the duplicated pairs. */
  readonly duplicate_deliveries: number;
  /** Duplicates of a delivery whose success record write was hit by an injected fault. */
  readonly duplicates_explained: number;
  readonly duplicates_unexplained: number;
  readonly dead_lettered: number;
  /** Acknowledged pairs whose job nevertheless ended in the DLQ (their success could not be recorded). */
  readonly delivered_and_dead_lettered: number;
  readonly held_for_operator: number;
  readonly lost: number;
  /** Pairs acknowledged by a receiver but not expected (a subscription got an event it does not match). */
  readonly unexpected: number;
  /** Pairs seen with more than one webhook-id, or webhook-ids shared by more than one pair. */
  readonly webhook_id_conflicts: number;
  readonly equation_holds: boolean;
  readonly by_profile: Record<string, ProfileCounts>;
  /** A few keys of each kind of problem, for the report. */
  readonly samples: {
    readonly lost: readonly PairKey[];
    readonly unexplained_duplicates: readonly PairKey[];
    readonly unexpected: readonly PairKey[];
    readonly webhook_id_conflicts: readonly string[];
  };
}

const SAMPLE_SIZE = 10;

export function reconcile(input: ReconcileInput): Reconciliation {
  const held = input.heldForOperator ?? new Set<PairKey>();
  const byProfile: Record<string, ProfileCounts> = {};
  const lostSample: PairKey[] = [];
  const unexplainedSample: PairKey[] = [];
  let delivered = 0;
  let duplicates = 0;
  let duplicateDeliveries = 0;
  let explained = 0;
  let dead = 0;
  let deliveredAndDead = 0;
  let heldCount = 0;
  let lost = 0;
  for (const [key, expected] of input.expected) {
    const counts = byProfile[expected.profile] ?? {
      expected: 0,
      delivered_unique: 0,
      dead_lettered: 0,
      lost: 0,
      duplicates: 0,
    };
    byProfile[expected.profile] = counts;
    counts.expected++;
    const received = input.received.get(key);
    const acks = received?.acks ?? 0;
    if (acks > 0) {
      delivered++;
      counts.delivered_unique++;
      if (input.deadLettered.has(key)) deliveredAndDead++;
      if (acks > 1) {
        duplicates++;
        counts.duplicates++;
        duplicateDeliveries += acks - 1;
        const ids = received?.webhookIds ?? new Set<string>();
        if ([...ids].some((id) => input.faultedAfterHttp.has(id))) explained++;
        else if (unexplainedSample.length < SAMPLE_SIZE) unexplainedSample.push(key);
      }
    } else if (input.deadLettered.has(key)) {
      dead++;
      counts.dead_lettered++;
    } else if (held.has(key)) {
      heldCount++;
    } else {
      lost++;
      counts.lost++;
      if (lostSample.length < SAMPLE_SIZE) lostSample.push(key);
    }
  }

  const unexpectedSample: PairKey[] = [];
  let unexpected = 0;
  const pairsByWebhookId = new Map<string, Set<PairKey>>();
  const conflictSample: string[] = [];
  let conflicts = 0;
  for (const [key, received] of input.received) {
    if (!input.expected.has(key) && received.acks > 0) {
      unexpected++;
      if (unexpectedSample.length < SAMPLE_SIZE) unexpectedSample.push(key);
    }
    if (received.webhookIds.size > 1) {
      conflicts++;
      if (conflictSample.length < SAMPLE_SIZE) conflictSample.push(key);
    }
    for (const id of received.webhookIds) {
      const pairs = pairsByWebhookId.get(id) ?? new Set<PairKey>();
      pairs.add(key);
      pairsByWebhookId.set(id, pairs);
    }
  }
  for (const [id, pairs] of pairsByWebhookId) {
    if (pairs.size > 1) {
      conflicts++;
      if (conflictSample.length < SAMPLE_SIZE) conflictSample.push(id);
    }
  }

  return {
    expected: input.expected.size,
    delivered_unique: delivered,
    duplicates,
    duplicate_deliveries: duplicateDeliveries,
    duplicates_explained: explained,
    duplicates_unexplained: duplicates - explained,
    dead_lettered: dead,
    delivered_and_dead_lettered: deliveredAndDead,
    held_for_operator: heldCount,
    lost,
    unexpected,
    webhook_id_conflicts: conflicts,
    equation_holds: lost === 0 && delivered + dead === input.expected.size,
    by_profile: byProfile,
    samples: {
      lost: lostSample,
      unexplained_duplicates: unexplainedSample,
      unexpected: unexpectedSample,
      webhook_id_conflicts: conflictSample,
    },
  };
}

/**
 * What makes a run fail, as messages (empty: the run passes). Unexplained duplicates are reported
 * as warnings by the caller, not failures: the product documents one more source of them (two
 * copies of a job sent at the same moment), and a timeout that fires as the 2xx arrives on a loaded
 * machine is indistinguishable from a receiver that answered too late.
 */
export function failures(result: Reconciliation): string[] {
  const problems: string[] = [];
  if (result.lost > 0) {
    problems.push(
      `${result.lost} deliveries lost (neither acknowledged nor dead-lettered), e.g. ${result.samples.lost.slice(0, 3).join(", ")}`,
    );
  }
  if (!result.equation_holds) {
    problems.push(
      `delivered_unique + dead_lettered = ${result.delivered_unique} + ${result.dead_lettered} = ${result.delivered_unique + result.dead_lettered}, expected ${result.expected}` +
        (result.held_for_operator > 0
          ? ` (${result.held_for_operator} held on the router's on-failure destination)`
          : ""),
    );
  }
  if (result.unexpected > 0) {
    problems.push(
      `${result.unexpected} deliveries no subscription should have received, e.g. ${result.samples.unexpected.slice(0, 3).join(", ")}`,
    );
  }
  if (result.webhook_id_conflicts > 0) {
    problems.push(
      `${result.webhook_id_conflicts} webhook-id conflicts (a delivery with several ids, or an id shared by deliveries)`,
    );
  }
  return problems;
}
