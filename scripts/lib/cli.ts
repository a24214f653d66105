import { type ParseArgsConfig, parseArgs } from "node:util";
import { CodedError } from "#shared/domain/errors.ts";

/**
 * The command line of every CLI of the repository (npm start, emit, demo, keys, openapi, bench,
 * chaos): `node:util` parseArgs, strict, and one error class for a command line that cannot be run.
 */

/** The command line is wrong: the CLI prints the message and its usage and exits 2. */
export class UsageError extends CodedError {
  override readonly name = "UsageError";
  readonly code = "USAGE";
}

/**
 * `parseArgs(config)` (strict unless the config says otherwise), with its errors turned into
 * UsageError. node:util's message names the offending option; the "To specify a positional argument
 * starting with a '-'…" hint it appends is noise for these CLIs and is cut.
 */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.split(". To ")[0] ?? message, { cause: error });
  }
}

/** What a CLI does with a command line it cannot run: the problem and its usage on stderr, exit code 2. */
export function usageFailure(error: unknown, usage: string): 2 {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
  return 2;
}
