import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR, SHARED_FIXTURES_DIR } from "../support/fixtures.ts";

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".json"))
    .sort();
}

describe("the repository's copy of the shared fixtures", () => {
  it.skipIf(!existsSync(SHARED_FIXTURES_DIR))("equals ../shared/fixtures file for file", () => {
    const shared = jsonFiles(SHARED_FIXTURES_DIR);
    expect(jsonFiles(FIXTURES_DIR)).toEqual(shared);
    for (const file of shared) {
      expect(readFileSync(path.join(FIXTURES_DIR, file), "utf8"), file).toBe(
        readFileSync(path.join(SHARED_FIXTURES_DIR, file), "utf8"),
      );
    }
  });

  it("holds the event catalogue and six sample events", () => {
    expect(jsonFiles(FIXTURES_DIR)).toHaveLength(7);
  });
});
