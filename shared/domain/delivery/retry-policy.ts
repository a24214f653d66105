/**
 * The retry arithmetic of a delivery attempt (PRODUCT §4): which answers a profile retries, the
 * jittered schedule, Retry-After, the auto-disable window. Pure functions of their inputs (time and
 * randomness are injected); the decision that uses them is decideDeliveryStep (delivery-step.ts).
 */
export type AttemptOutcome =
  | { readonly statusCode: number; readonly retryAfter: string | null }
  | { readonly error: string };

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
 * Not capped at what one SQS sleep allows: a longer delay is reached in hops (waits.ts).
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

/** What the retry arithmetic reads of an attempt. */
export interface RetryInput {
  /** 1-based attempt number of the delivery's current chain, counted on its record (never SQS receives). */
  readonly attempt: number;
  readonly outcome: AttemptOutcome;
  /** Delays (seconds) before attempts 2..n; its length is the number of retries. */
  readonly schedule: readonly number[];
  /** Fraction of each delay to spread randomly either way, e.g. 0.2 for ±20 %. */
  readonly jitter: number;
  readonly now: Date;
  readonly random?: () => number;
}

/**
 * The delay before the next attempt of a failed one: the schedule's delay for `attempt`, jittered,
 * with a 429's or 503's Retry-After honoured within [scheduled, 2×scheduled]; null when `attempt` was
 * the schedule's last (no attempts left).
 */
export function retryDelaySeconds(input: RetryInput): number | null {
  const { attempt, outcome, schedule, jitter, now, random = Math.random } = input;
  const scheduled = schedule[attempt - 1];
  if (scheduled === undefined) return null;
  const delaySeconds = jitteredDelaySeconds(scheduled, jitter, random);
  if ("statusCode" in outcome && RETRY_AFTER_STATUSES.has(outcome.statusCode)) {
    const retryAfter = parseRetryAfter(outcome.retryAfter, now);
    if (retryAfter !== null) return clampRetryAfter(retryAfter, delaySeconds);
  }
  return delaySeconds;
}

const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/**
 * Whether a subscription has been failing for the whole window and must be disabled (`failing`).
 * The caller resets `failingSince` to null on any success.
 */
export function autoDisableDue(failingSince: Date | null, now: Date, windowSeconds: number): boolean {
  if (failingSince === null) return false;
  return now.getTime() - failingSince.getTime() >= windowSeconds * 1000;
}
