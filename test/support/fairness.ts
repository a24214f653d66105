import {
  type EndpointHealth,
  type FairnessPolicy,
  HEALTHY,
  type HealthChange,
} from "#shared/domain/delivery/endpoint-health.ts";
import type { DeliveryJob } from "#shared/domain/delivery/job.ts";
import { FairLanes } from "#shared/services/delivery/fair-lanes.ts";

/** The deployment's default fair-delivery policy (shared/config.ts), with a breaker threshold of 5. */
export const TEST_FAIRNESS_POLICY: FairnessPolicy = {
  mainLaneTimeoutMs: 3000,
  timeoutMs: 15_000,
  breakerThreshold: 5,
  cooldownMs: 30_000,
  maxCooldownMs: 600_000,
  slowLaneStickyMs: 300_000,
  endpointConcurrency: 4,
  provenFastMs: 60_000,
  firstDialDeferMs: 3000,
};

/**
 * An endpoint store in memory for the fairness phase's tests: one state for every endpoint (a test
 * may change it between batches), the claims it is asked for and whether they are won, and the kinds
 * of the changes written.
 */
export class FakeEndpointHealthStore {
  readonly changes: HealthChange["kind"][] = [];
  readonly claims: ("probe" | "first_dial")[] = [];
  constructor(
    public health: EndpointHealth = HEALTHY,
    public wins: { firstDial?: boolean; probe?: boolean } = {},
  ) {}
  async load(urls: readonly string[]): Promise<Map<string, EndpointHealth>> {
    return new Map(urls.map((url) => [url, this.health]));
  }
  async apply(_url: string, change: HealthChange): Promise<EndpointHealth> {
    this.changes.push(change.kind);
    if (change.kind === "mark_slow") this.health = { ...this.health, slowUntil: change.slowUntil };
    return this.health;
  }
  async claimProbe(): Promise<boolean> {
    this.claims.push("probe");
    return this.wins.probe ?? true;
  }
  async claimFirstDial(): Promise<{ won: boolean; health: EndpointHealth }> {
    this.claims.push("first_dial");
    return { won: this.wins.firstDial ?? true, health: this.health };
  }
}

/** Fair lanes over `store` at the instant `now`, with the jobs handed to the slow lane recorded. */
export function fairLanesOver(
  store: FakeEndpointHealthStore,
  options: { readonly policy?: FairnessPolicy; readonly now?: Date } = {},
): { readonly fair: FairLanes; readonly handedOver: DeliveryJob[] } {
  const handedOver: DeliveryJob[] = [];
  const fair = new FairLanes({
    policy: options.policy ?? TEST_FAIRNESS_POLICY,
    health: store,
    slowLane: {
      send: async (job: DeliveryJob) => {
        handedOver.push(job);
        return "m";
      },
      hold: async () => {},
    },
    slowQueueName: "slow",
    logger: { warn() {} },
    now: () => options.now ?? new Date(1_000_000),
  });
  return { fair, handedOver };
}
