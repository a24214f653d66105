/**
 * The command line of a generated, committed file (docs/openapi.json, docs/configuration.md):
 * without options it rewrites the file from the code; `--check` writes nothing and exits 1 when the
 * committed file differs, so CI catches a change whose generated file was not regenerated.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseCommandLine } from "./lib/cli.ts";

export interface GeneratedFile {
  /** The npm script, e.g. `openapi`; `<name>:check` is its check. */
  readonly script: string;
  /** Absolute path of the committed file. */
  readonly defaultPath: string;
  /** What generates it, for the usage text. */
  readonly source: string;
  /** The file's exact contents, from the code. */
  render(): string | Promise<string>;
}

async function committedContents(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** The first line that differs, so the message says where to look without a diff tool. */
export function firstDifference(expected: string, actual: string): string {
  const want = expected.split("\n");
  const have = actual.split("\n");
  for (let i = 0; i < Math.max(want.length, have.length); i++) {
    if (want[i] !== have[i]) {
      return `line ${i + 1}: expected ${JSON.stringify(want[i] ?? "<end of file>")}, found ${JSON.stringify(have[i] ?? "<end of file>")}`;
    }
  }
  return "no line differs (line endings?)";
}

async function main(generated: GeneratedFile, argv: readonly string[]): Promise<number> {
  const name = path.basename(generated.defaultPath);
  const usage = `Usage: npm run ${generated.script} [-- --check] [-- --file <path>]

  (no option)    write ${path.relative(path.resolve(import.meta.dirname, ".."), generated.defaultPath)} from ${generated.source}
  --check        write nothing; exit 1 if the file is not what the code generates
  --file <path>  another file than ${name}
  --help         this text`;
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
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    check = values.check === true;
    file = values.file === undefined ? generated.defaultPath : path.resolve(values.file);
  } catch (error) {
    process.stderr.write(
      `${generated.script}: ${error instanceof Error ? error.message : String(error)}\n${usage}\n`,
    );
    return 2;
  }

  const display = path.relative(process.cwd(), file) || file;
  const contents = await generated.render();
  const committed = await committedContents(file);
  if (check) {
    if (committed === contents) {
      process.stderr.write(`${display} is up to date.\n`);
      return 0;
    }
    const why =
      committed === null
        ? "it does not exist"
        : `it differs from the code (${firstDifference(contents, committed)})`;
    process.stderr.write(
      `${generated.script}: ${display} is stale: ${why}.\nRun \`npm run ${generated.script}\` and commit the result.\n`,
    );
    return 1;
  }
  if (committed === contents) {
    process.stderr.write(`${display} is already up to date.\n`);
    return 0;
  }
  await writeFile(file, contents, "utf8");
  process.stderr.write(`Wrote ${display} (${Buffer.byteLength(contents)} bytes).\n`);
  return 0;
}

/** Runs the command line with this process's arguments and sets its exit code. */
export function runGeneratedFileCli(generated: GeneratedFile): void {
  main(generated, process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `${generated.script}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
