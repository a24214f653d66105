/**
 * Per-customer quotas on what makes the service send requests on a customer's behalf (PRODUCT §5):
 * test events, manual retries and recover calls. Fixed windows: at most `limit` actions in each
 * window of `windowSeconds` aligned on the epoch, counted in one shared item per (customer, action,
 * window) — so every API instance sees the same count (docs/api.md, "Quotas").
 */

import { CodedError } from "../errors.ts";

export const QUOTA_ACTIONS = ["test_event", "retry", "recover"] as const;
export type QuotaAction = (typeof QUOTA_ACTIONS)[number];

export interface QuotaRule {
  readonly limit: number;
  readonly windowSeconds: number;
}

export type QuotaRules = Readonly<Record<QuotaAction, QuotaRule>>;

/** What each action is called in an answer. */
export const QUOTA_ACTION_NOUNS: Readonly<Record<QuotaAction, string>> = {
  test_event: "test events",
  retry: "manual retries",
  recover: "recover calls",
};

export interface QuotaWindow {
  /** Epoch seconds the window starts at (inclusive). */
  readonly startS: number;
  /** Epoch seconds it ends at (exclusive). */
  readonly endS: number;
}

export function quotaWindow(rule: QuotaRule, now: Date): QuotaWindow {
  const nowS = Math.floor(now.getTime() / 1000);
  const startS = nowS - (nowS % rule.windowSeconds);
  return { startS, endS: startS + rule.windowSeconds };
}

/** Whole seconds until the window ends (at least 1): what `Retry-After` says. */
export function secondsUntilWindowEnds(window: QuotaWindow, now: Date): number {
  return Math.max(1, Math.ceil((window.endS * 1000 - now.getTime()) / 1000));
}

/** "10 test events per minute", for messages and docs. */
export function describeQuota(action: QuotaAction, rule: QuotaRule): string {
  const per =
    rule.windowSeconds === 60
      ? "minute"
      : rule.windowSeconds === 3600
        ? "hour"
        : rule.windowSeconds === 86_400
          ? "day"
          : `${rule.windowSeconds} seconds`;
  return `${rule.limit} ${QUOTA_ACTION_NOUNS[action]} per ${per}`;
}

/** The customer used up a quota; the API answers 429 with `Retry-After: retryAfterSeconds`. */
export class QuotaExceededError extends CodedError {
  override readonly name = "QuotaExceededError";
  readonly code = "QUOTA_EXCEEDED" as const;
  constructor(
    readonly action: QuotaAction,
    readonly rule: QuotaRule,
    readonly retryAfterSeconds: number,
  ) {
    super(`quota exceeded: at most ${describeQuota(action, rule)}; retry after ${retryAfterSeconds} s`);
  }
}
