/** A promise that settles after `ms` milliseconds: the wait between an adapter's retries. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));
