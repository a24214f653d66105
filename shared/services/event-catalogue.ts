import type { AddedEventType } from "../domain/events/runtime-catalogue.ts";
import { BUILT_IN_CATALOGUE, EventCatalogue } from "../domain/events/runtime-catalogue.ts";

/**
 * How long a function keeps the run-time catalogue it read (docs/data-model.md, "Run-time event
 * types"). Routing reads it only for an event whose type is not built in, so events of built-in types
 * cost nothing extra; a copy that knows the type is kept for HIT_TTL_MS (a removed type stops routing
 * within a minute), one that does not know it is re-read after MISS_REFRESH_MS, so that an operator's
 * `event-types add` followed by `unroutable redrive` routes at once, while a flood of unknown types
 * costs at most one Query per sandbox every two seconds.
 */
export const CATALOGUE_HIT_TTL_MS = 60_000;
export const CATALOGUE_MISS_REFRESH_MS = 2_000;

export interface EventTypeSource {
  list(): Promise<AddedEventType[]>;
}

export class CachedEventCatalogue {
  private cached: { catalogue: EventCatalogue; at: number } | undefined;
  private loading: Promise<EventCatalogue> | undefined;

  constructor(
    private readonly source: EventTypeSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** The catalogue to judge `type` with: the built-in one, without a read, for a built-in type. */
  forType(type: string): Promise<EventCatalogue> {
    return this.judging((catalogue) => catalogue.has(type));
  }

  /** The catalogue to judge a subscription pattern with (a miss is re-read as in forType). */
  forPattern(pattern: string): Promise<EventCatalogue> {
    return this.judging((catalogue) => catalogue.isValidPattern(pattern));
  }

  /**
   * The built-in catalogue when it knows the thing, else the cached merged one: kept for
   * CATALOGUE_HIT_TTL_MS when it knows it, for CATALOGUE_MISS_REFRESH_MS when it does not.
   */
  private async judging(knows: (catalogue: EventCatalogue) => boolean): Promise<EventCatalogue> {
    if (knows(BUILT_IN_CATALOGUE)) return BUILT_IN_CATALOGUE;
    const cached = this.cached;
    if (cached !== undefined) {
      const age = this.now() - cached.at;
      if (age < (knows(cached.catalogue) ? CATALOGUE_HIT_TTL_MS : CATALOGUE_MISS_REFRESH_MS))
        return cached.catalogue;
    }
    return this.load();
  }

  /** The whole catalogue, at most CATALOGUE_HIT_TTL_MS old (the API's GET /v1/event-types). */
  async current(): Promise<EventCatalogue> {
    const cached = this.cached;
    if (cached !== undefined && this.now() - cached.at < CATALOGUE_HIT_TTL_MS) return cached.catalogue;
    return this.load();
  }

  private load(): Promise<EventCatalogue> {
    // Concurrent callers of one sandbox share one read.
    this.loading ??= this.source
      .list()
      .then((added) => {
        const catalogue = new EventCatalogue(added);
        this.cached = { catalogue, at: this.now() };
        return catalogue;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}
