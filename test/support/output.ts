import { vi } from "vitest";

/**
 * Captures everything written to stdout and stderr (where Powertools writes its log lines) until
 * the returned function is called, which restores both streams and returns the text.
 */
export function captureOutput(): () => string {
  const written: string[] = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(capture);
  return () => {
    stdout.mockRestore();
    stderr.mockRestore();
    return written.join("");
  };
}
