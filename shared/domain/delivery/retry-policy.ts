/**
 * What happens after a delivery attempt (PRODUCT §4): delivered, endpoint gone, retried later, or
 * dead. Pure functions of their inputs (time and randomness are injected) so the delivery Lambda,
 * the local stack and the tests all decide identically.
 */
export type Decision =
  | { readonly kind: "succeeded" }
  | { readonly kind: "gone" }
  /** The legacy profile's final failures (PRODUCT §11): a status VoIPBIN's sender never retries. */
  | { readonly kind: "rejected" }
  | { readonly kind: "retry"; readonly delaySeconds: number; readonly nextAttemptAt: Date }
  | { readonly kind: "dead" };

export type AttemptOutcome =
  | { readonly statusCode: number; readonly retryAfter: string | null }
  | { readonly error: string };

export interface DecideInput {
  /** 1-based attempt number of the delivery's current chain, counted on its record (never SQS receives). */
  readonly attempt: number;
  readonly outcome: AttemptOutcome;
  /** Delays (seconds) before attempts 2..n; its length is the number of retries. */
  readonly schedule: readonly number[];
  /** Fraction of each delay to spread randomly either way, e.g. 0.2 for ±20 %. */
  readonly jitter: number;
  readonly now: Date;
  readonly random?: () => number;
  /** Whose outcome rules apply. @default "standard" */
  readonly profile?: "standard" | "legacy";
}

/**
 * What VoIPBIN's own sender retries (PRODUCT §11): 5xx and failures to get an answer (timeouts,
 * refused or reset connections, DNS and TLS failures, blocked addresses). A destination that is not
 * a deliverable URL at all (`invalid_destination`, e.g. a redirect to another scheme) is final.
 */
export function legacyRetries(outcome: AttemptOutcome): boolean {
  if ("statusCode" in outcome) return outcome.statusCode >= 500;
  return outcome.error !== "invalid_destination";
}

// Delay arithmetic like 36000 * 0.8 is not exact in binary floating point; this tolerance keeps
// a bound that is mathematically whole from being rounded to the next second.
const FLOAT_TOLERANCE = 1e-6;

/**
 * A whole number of seconds drawn uniformly from [base·(1−jitter), base·(1+jitter)], so that
 * endpoints recovering from an outage are not hit by every pending retry in the same second.
 * Not capped at what one SQS sleep allows: a longer delay is reached in hops (visibility.ts).
 */
export function jitteredDelaySeconds(
  baseSeconds: number,
  jitter: number,
  random: () => number = Math.random,
): number {
  if (!Number.isFinite(baseSeconds) || baseSeconds < 0) {
    throw new RangeError(`retry delay must be a non-negative number of seconds, got ${baseSeconds}`);
  }
  if (!Number.isFinite(jitter) || jitter < 0 || jitter > 1) {
    throw new RangeError(`jitter must be between 0 and 1, got ${jitter}`);
  }
  const low = baseSeconds * (1 - jitter);
  const high = baseSeconds * (1 + jitter);
  const drawn = Math.round(low + (high - low) * random());
  // Rounding must not step outside the range when its bounds are not whole seconds.
  const wholeLow = Math.ceil(low - FLOAT_TOLERANCE);
  const wholeHigh = Math.floor(high + FLOAT_TOLERANCE);
  const bounded =
    wholeLow <= wholeHigh ? Math.min(Math.max(drawn, wholeLow), wholeHigh) : Math.round(baseSeconds);
  return Math.max(bounded, 0);
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
// The three HTTP-date forms a recipient must accept (RFC 9110 §5.6.7). They are parsed by hand
// because Date.parse accepts far more than HTTP-dates (e.g. "1" is the year 2001) and reads the
// zone-less asctime form as local time.
const IMF_FIXDATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`,
  "i",
);
const RFC850_DATE = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`,
  "i",
);
const ASCTIME_DATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`,
  "i",
);

interface DateParts {
  readonly year: number;
  readonly month: string;
  readonly day: string;
  readonly hour: string;
  readonly minute: string;
  readonly second: string;
}

function toEpochMillis(parts: DateParts): number | null {
  const month = MONTHS.indexOf(parts.month.toLowerCase());
  const day = Number(parts.day.trim());
  const hour = Number(parts.hour);
  const minute = Number(parts.minute);
  const second = Number(parts.second);
  if (month < 0 || hour > 23 || minute > 59 || second > 59) return null;
  const millis = Date.UTC(parts.year, month, day, hour, minute, second);
  // Date.UTC rolls 31 Feb over into March; such a date is garbage, not a date.
  return new Date(millis).getUTCDate() === day ? millis : null;
}

function parseHttpDate(value: string, now: Date): number | null {
  let match = IMF_FIXDATE.exec(value);
  if (match !== null) {
    const [, day = "", month = "", year = "", hour = "", minute = "", second = ""] = match;
    return toEpochMillis({ year: Number(year), month, day, hour, minute, second });
  }
  match = RFC850_DATE.exec(value);
  if (match !== null) {
    const [, day = "", month = "", shortYear = "", hour = "", minute = "", second = ""] = match;
    // RFC 9110: a two-digit year that would be more than 50 years ahead is in the past century.
    const currentYear = now.getUTCFullYear();
    let year = Math.floor(currentYear / 100) * 100 + Number(shortYear);
    if (year > currentYear + 50) year -= 100;
    return toEpochMillis({ year, month, day, hour, minute, second });
  }
  match = ASCTIME_DATE.exec(value);
  if (match !== null) {
    const [, month = "", day = "", hour = "", minute = "", second = "", year = ""] = match;
    return toEpochMillis({ year: Number(year), month, day, hour, minute, second });
  }
  return null;
}

/**
 * Seconds the endpoint asked us to wait, from `Retry-After` as delta-seconds or an HTTP-date;
 * null when absent, unparseable, or in the past.
 */
export function parseRetryAfter(header: string | null, now: Date): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (value === "") return null;
  if (/^\d+$/.test(value)) {
    const seconds = Number(value);
    return Number.isSafeInteger(seconds) ? seconds : null;
  }
  const at = parseHttpDate(value, now);
  if (at === null) return null;
  // Rounded up: retrying a fraction of a second before the date the server gave is too early.
  const seconds = Math.ceil((at - now.getTime()) / 1000);
  return seconds >= 0 ? seconds : null;
}

/**
 * Honours the endpoint's Retry-After within [scheduled, 2×scheduled]: never sooner than our own
 * schedule (a server cannot make us hammer it), never so late that one header stalls a delivery.
 */
export function clampRetryAfter(retryAfterSeconds: number, scheduledSeconds: number): number {
  return Math.min(Math.max(retryAfterSeconds, scheduledSeconds), 2 * scheduledSeconds);
}

const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export function decideAfterAttempt(input: DecideInput): Decision {
  const { attempt, outcome, schedule, jitter, now, random = Math.random } = input;
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a whole number from 1, got ${attempt}`);
  }
  if ("statusCode" in outcome && outcome.statusCode >= 200 && outcome.statusCode <= 299) {
    return { kind: "succeeded" };
  }
  if (input.profile === "legacy") {
    // 410 is not special here, and any 1xx/3xx/4xx (a redirect left after the hop limit) is final.
    if (!legacyRetries(outcome)) return { kind: "rejected" };
  } else if ("statusCode" in outcome && outcome.statusCode === 410) {
    return { kind: "gone" };
  }
  // Redirects are not followed, so 3xx is a failure like any other non-2xx.
  const scheduled = schedule[attempt - 1];
  if (scheduled === undefined) return { kind: "dead" };
  let delaySeconds = jitteredDelaySeconds(scheduled, jitter, random);
  if ("statusCode" in outcome && RETRY_AFTER_STATUSES.has(outcome.statusCode)) {
    const retryAfter = parseRetryAfter(outcome.retryAfter, now);
    if (retryAfter !== null) delaySeconds = clampRetryAfter(retryAfter, delaySeconds);
  }
  return { kind: "retry", delaySeconds, nextAttemptAt: new Date(now.getTime() + delaySeconds * 1000) };
}

/**
 * Whether a subscription has been failing for the whole window and must be disabled (`failing`).
 * The caller resets `failingSince` to null on any success.
 */
export function autoDisableDue(failingSince: Date | null, now: Date, windowSeconds: number): boolean {
  if (failingSince === null) return false;
  return now.getTime() - failingSince.getTime() >= windowSeconds * 1000;
}
