/**
 * The time as the use cases read it (the port): every service takes an optional clock so that a test
 * can fix or move the time (quota windows, retention, expiry) without waiting for it.
 */
export type Clock = () => Date;

/** The machine's clock: the default wherever no clock is injected. */
export const systemClock: Clock = () => new Date();
