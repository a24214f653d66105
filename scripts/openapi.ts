/**
 * Writes docs/openapi.json from the API's route table and zod schemas (shared/api/openapi.ts), the
 * same document `GET /openapi.json` serves. `--check` writes nothing and exits 1 when the committed
 * file differs, so CI catches an API change whose document was not regenerated.
 *
 *   npm run openapi           regenerate docs/openapi.json
 *   npm run openapi:check     exit 0 when it is up to date, 1 when not
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { renderOpenApiDocument } from "#shared/api/openapi.ts";
import { parseCommandLine } from "../local/cli.ts";

const REPO_ROOT = path.resolve(import.meta.dirname, "..");
const DEFAULT_PATH = path.join(REPO_ROOT, "docs", "openapi.json");

const USAGE = `Usage: npm run openapi [-- --check] [-- --file <path>]

  (no option)    write docs/openapi.json from shared/api (routes.ts, schemas.ts, openapi.ts)
  --check        write nothing; exit 1 if the file is not what the code generates
  --file <path>  another file than docs/openapi.json
  --help         this text`;

async function committedDocument(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** The first line that differs, so the message says where to look without a diff tool. */
function firstDifference(expected: string, actual: string): string {
  const want = expected.split("\n");
  const have = actual.split("\n");
  for (let i = 0; i < Math.max(want.length, have.length); i++) {
    if (want[i] !== have[i]) {
      return `line ${i + 1}: expected ${JSON.stringify(want[i] ?? "<end of file>")}, found ${JSON.stringify(have[i] ?? "<end of file>")}`;
    }
  }
  return "no line differs (line endings?)";
}

async function main(argv: readonly string[]): Promise<number> {
  let check: boolean;
  let file: string;
  try {
    const { values } = parseCommandLine({
      args: [...argv],
      options: {
        check: { type: "boolean" },
        file: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    check = values.check === true;
    file = values.file === undefined ? DEFAULT_PATH : path.resolve(values.file);
  } catch (error) {
    process.stderr.write(`openapi: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }

  const display = path.relative(process.cwd(), file) || file;
  const generated = renderOpenApiDocument();
  const committed = await committedDocument(file);
  if (check) {
    if (committed === generated) {
      process.stderr.write(`${display} is up to date.\n`);
      return 0;
    }
    const why =
      committed === null
        ? "it does not exist"
        : `it differs from the code (${firstDifference(generated, committed)})`;
    process.stderr.write(
      `openapi: ${display} is stale: ${why}.\nRun \`npm run openapi\` and commit the result.\n`,
    );
    return 1;
  }
  if (committed === generated) {
    process.stderr.write(`${display} is already up to date.\n`);
    return 0;
  }
  await writeFile(file, generated, "utf8");
  process.stderr.write(`Wrote ${display} (${Buffer.byteLength(generated)} bytes).\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `openapi: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
