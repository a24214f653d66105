import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR, SHARED_FIXTURES_DIR } from "../support/fixtures.ts";

/**
 * local/fixtures is a copy of the product's shared fixtures (../shared/fixtures beside the checkout).
 * SHA256SUMS, written from the shared copy when it was taken, lets a lone clone (no ../shared) still
 * check its copy; where the shared copy exists it is compared too, so a drift on either side fails.
 */
const MANIFEST = path.join(FIXTURES_DIR, "SHA256SUMS");
/** Files of local/fixtures that are the repository's own, not part of the copy. */
const OWN_FILES = new Set(["README.md", "SHA256SUMS"]);
const REFRESH =
  "refresh the copy: cp -r ../shared/fixtures/. local/fixtures/ && " +
  "(cd ../shared/fixtures && find . -type f | sort | sed 's#^./##' | xargs sha256sum) > local/fixtures/SHA256SUMS";

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"))
    .filter((file) => !(dir === FIXTURES_DIR && OWN_FILES.has(file)))
    .sort();
}

/** `sha256sum` lines of a directory's files, in file order. */
function checksums(dir: string): string[] {
  return files(dir).map(
    (file) =>
      `${createHash("sha256")
        .update(readFileSync(path.join(dir, file)))
        .digest("hex")}  ${file}`,
  );
}

const recorded = () => readFileSync(MANIFEST, "utf8").trim().split("\n");

describe("the repository's copy of the shared fixtures", () => {
  it("is, byte for byte, the copy SHA256SUMS records", () => {
    expect(checksums(FIXTURES_DIR), `local/fixtures differs from its SHA256SUMS; ${REFRESH}`).toEqual(
      recorded(),
    );
  });

  // Where ../shared is absent (a lone clone, or a CI runner that clones elsewhere) the SHA256SUMS check
  // above is the whole check, and this test's name says which reference it had; it never skips.
  const shared = existsSync(SHARED_FIXTURES_DIR);
  it(
    shared
      ? "equals ../shared/fixtures file for file"
      : "has no ../shared/fixtures here (SHA256SUMS checked only)",
    () => {
      const reference = shared ? checksums(SHARED_FIXTURES_DIR) : recorded();
      expect(reference, `../shared/fixtures changed; ${REFRESH}`).toEqual(recorded());
    },
  );

  it("holds the event catalogue and six sample events", () => {
    expect(files(FIXTURES_DIR).filter((file) => file.endsWith(".json"))).toHaveLength(7);
  });
});
