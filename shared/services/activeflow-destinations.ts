/**
 * The customer's view of its activeflow destinations (PRODUCT §11, issue 21): read-only, since
 * VoIPBIN's flow-manager keeps them (shared/services/route-event.ts applies its events).
 */
import { type Clock, systemClock } from "../domain/ports/clock.ts";
import type { ActiveflowDestinationRepository } from "../domain/ports/subscriptions.ts";
import type { ActiveflowDestination } from "../domain/subscriptions/activeflow.ts";

export interface ActiveflowDestinationPage {
  readonly items: ActiveflowDestination[];
  /** The activeflow id the next page starts after; null on the last page. */
  readonly nextAfterId: string | null;
}

export class ActiveflowDestinationService {
  constructor(
    private readonly deps: {
      readonly repository: Pick<ActiveflowDestinationRepository, "listPage">;
      readonly now?: Clock | undefined;
    },
  ) {}

  list(
    customerId: string,
    options: { limit: number; afterId?: string | undefined },
  ): Promise<ActiveflowDestinationPage> {
    return this.deps.repository.listPage(customerId, {
      ...options,
      now: (this.deps.now ?? systemClock)(),
    });
  }
}
