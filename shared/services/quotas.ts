import { type Clock, systemClock } from "../domain/ports/clock.ts";
import type { QuotaCounterRepository } from "../domain/ports/stores.ts";
import {
  type QuotaAction,
  QuotaExceededError,
  type QuotaRules,
  quotaWindow,
  secondsUntilWindowEnds,
} from "../domain/quotas/quota.ts";

export interface QuotaServiceDependencies {
  readonly counters: Pick<QuotaCounterRepository, "tryConsume">;
  readonly rules: QuotaRules;
  readonly now?: Clock | undefined;
}

/** The per-customer quotas of PRODUCT §5, enforced before anything is queued. */
export class QuotaService {
  constructor(private readonly deps: QuotaServiceDependencies) {}

  /** Takes one unit of the customer's quota for `action`, or throws QuotaExceededError. */
  async consume(customerId: string, action: QuotaAction): Promise<void> {
    const rule = this.deps.rules[action];
    const now = (this.deps.now ?? systemClock)();
    if (await this.deps.counters.tryConsume(customerId, action, rule, now)) return;
    throw new QuotaExceededError(action, rule, secondsUntilWindowEnds(quotaWindow(rule, now), now));
  }
}
