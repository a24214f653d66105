/**
 * AWS's fair-queue rule for one standard queue (SQS Developer Guide, "How Amazon SQS fair queues
 * work", sqs-fair-queues-detailed): tenants are message groups (MessageGroupId); a tenant is a noisy
 * neighbour when
 *   - its concurrency share — its in-flight messages as a fraction of the queue's — is more than
 *     ~10 % and it has at least 30 messages of its own in flight, or
 *   - its processing-time share — its part of the consumers' recent processing time — is more
 *     than ~10 %;
 * a noisy tenant's messages are served only when no quiet tenant's message is waiting (noisy
 * tenants with the fewest in-flight messages first), never dropped or throttled; a tenant stops
 * being noisy when its backlog has drained or after 5 minutes in which it sent nothing.
 *
 * What the guide leaves open, decided here (docs/local.md, "What the SQS stand-in enforces"):
 * - Processing time is the time a message spends in flight: from its receive to its delete, to its
 *   visibility timeout's expiry or to a visibility change to 0. "Recent" is an exponentially
 *   weighted window: each group's in-flight count integrated over time with a time constant of
 *   `processingWindowMs` (60 s), so what happened a minute ago weighs e⁻¹ of what happens now.
 *   The same integral over all in-flight messages is the total the share is taken of.
 * - Backlog is what the group has waiting to be received: visible and delayed messages (a delayed
 *   message is backlog, not in flight).
 * - A group is only flagged while it has a backlog and sent within the last 5 minutes (otherwise
 *   the status would end at once); once flagged it stays noisy until one of the two ending rules
 *   holds, even if its shares fall meanwhile.
 * - A message without MessageGroupId is a tenant of its own (as on AWS) and is never deprioritised.
 */

export interface FairQueueSettings {
  /** A group must have at least this many messages of its own in flight to be noisy by concurrency share (30). */
  readonly minGroupInFlight: number;
  /** The share (of in-flight messages, or of processing time) above which a group is noisy (0.1). */
  readonly maxShare: number;
  /** Time constant of the recent processing-time window, ms (60 s). */
  readonly processingWindowMs: number;
  /** A noisy group that sent nothing for this long is quiet again, ms (5 minutes). */
  readonly quietAfterMs: number;
}

export const DEFAULT_FAIR_QUEUE: FairQueueSettings = {
  minGroupInFlight: 30,
  maxShare: 0.1,
  processingWindowMs: 60_000,
  quietAfterMs: 5 * 60_000,
};

/** Below this (message·ms of recent processing), an idle group's history is forgotten. */
const NEGLIGIBLE_PROCESSING = 1;
/** With more groups than this, a full re-evaluation runs at most every FULL_EVALUATION_MS. */
const CHEAP_GROUP_COUNT = 256;
const FULL_EVALUATION_MS = 100;

/** An exponentially weighted integral of an in-flight count over time (message·ms). */
class Processing {
  inFlight = 0;
  private weighted = 0;
  private at = 0;
  private readonly tau: number;

  constructor(tau: number) {
    this.tau = tau;
  }

  /** The weighted integral up to `now`. */
  valueAt(now: number): number {
    const elapsed = Math.max(0, now - this.at);
    if (elapsed === 0) return this.weighted;
    const decay = Math.exp(-elapsed / this.tau);
    // ∫ n·e^{-(now-t)/τ} dt over the elapsed interval, with n constant over it.
    return this.weighted * decay + this.inFlight * this.tau * (1 - decay);
  }

  change(delta: number, now: number): void {
    this.weighted = this.valueAt(now);
    this.at = Math.max(this.at, now);
    this.inFlight += delta;
  }
}

interface GroupState {
  readonly processing: Processing;
  backlog: number;
  lastSentAt: number;
  noisy: boolean;
}

export class FairQueue {
  private readonly groups = new Map<string, GroupState>();
  private readonly total: Processing;
  private readonly flagged = new Set<string>();
  private lastFullEvaluation = Number.NEGATIVE_INFINITY;
  private readonly settings: FairQueueSettings;

  constructor(settings: FairQueueSettings = DEFAULT_FAIR_QUEUE) {
    this.settings = settings;
    this.total = new Processing(settings.processingWindowMs);
  }

  /** A message of `group` was sent (or moved in from another queue's redrive: not a send). */
  sent(group: string | null, now: number): void {
    if (group === null) return;
    this.state(group).lastSentAt = now;
  }

  backlog(group: string | null, delta: number): void {
    if (group === null) return;
    const state = this.state(group);
    state.backlog += delta;
    // Its backlog drained: no longer noisy, even if it sends again before the next receive.
    if (state.backlog <= 0 && state.noisy) this.setNoisy(group, state, false);
  }

  /** A message of `group` entered (+1) or left (−1) flight at `now`. */
  inFlight(group: string | null, delta: number, now: number): void {
    this.total.change(delta, now);
    if (group !== null) this.state(group).processing.change(delta, now);
  }

  inFlightOf(group: string): number {
    return this.groups.get(group)?.processing.inFlight ?? 0;
  }

  /**
   * The noisy groups at `now`, each with its in-flight count (the order noisy groups are served in).
   * Empty, and cheap, when no group is noisy.
   */
  noisy(now: number): ReadonlyMap<string, number> {
    const full = this.groups.size <= CHEAP_GROUP_COUNT || now - this.lastFullEvaluation >= FULL_EVALUATION_MS;
    if (full) this.lastFullEvaluation = now;
    const result = new Map<string, number>();
    const totalInFlight = this.total.inFlight;
    const totalProcessing = this.total.valueAt(now);
    const { maxShare, minGroupInFlight, quietAfterMs } = this.settings;
    const names = full ? [...this.groups.keys()] : [...this.flagged];
    for (const name of names) {
      const group = this.groups.get(name);
      if (group === undefined) continue;
      const sending = now - group.lastSentAt < quietAfterMs;
      if (group.noisy && (group.backlog <= 0 || !sending)) this.setNoisy(name, group, false);
      const processing = group.processing.valueAt(now);
      if (!group.noisy && group.backlog > 0 && sending) {
        const inFlight = group.processing.inFlight;
        const byConcurrency = inFlight >= minGroupInFlight && inFlight > maxShare * totalInFlight;
        const byProcessingTime = totalProcessing > 0 && processing > maxShare * totalProcessing;
        if (byConcurrency || byProcessingTime) this.setNoisy(name, group, true);
      }
      if (group.noisy) result.set(name, group.processing.inFlight);
      else if (group.backlog <= 0 && group.processing.inFlight === 0 && processing < NEGLIGIBLE_PROCESSING) {
        this.groups.delete(name);
      }
    }
    return result;
  }

  private setNoisy(name: string, group: GroupState, noisy: boolean): void {
    group.noisy = noisy;
    if (noisy) this.flagged.add(name);
    else this.flagged.delete(name);
  }

  private state(group: string): GroupState {
    let state = this.groups.get(group);
    if (state === undefined) {
      state = {
        processing: new Processing(this.settings.processingWindowMs),
        backlog: 0,
        lastSentAt: Number.NEGATIVE_INFINITY,
        noisy: false,
      };
      this.groups.set(group, state);
    }
    return state;
  }
}
