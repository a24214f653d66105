/**
 * The mutation score over shared/, added up from the Stryker runs actually made
 * (docs/benchmarks.md, "Mutation testing").
 *
 *   npm run mutate:score -- [--markdown] [reports/mutation/runs/*.json ...]
 *
 * Each narrowed run (`npm run mutate:shared -- --mutate <files>`, with MUTATE_REPORT naming its
 * report) leaves a Stryker JSON report. This script folds the reports given into
 * docs/mutation-score.json, one entry per source file with its counts and the day and report it was
 * measured in (a later report of a file replaces the earlier one), then prints the score per folder
 * and overall. A file of shared/ with no entry counts as "not run": its mutants are neither killed
 * nor survived, and the table says how many files that is, so the score never claims code it did
 * not measure.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { z } from "zod";
import { formatTable } from "./text-table.ts";

const SCORE_FILE = "docs/mutation-score.json";

/** The part of Stryker's mutation-testing-report-schema read here. */
const Report = z.object({
  files: z.record(z.string(), z.object({ mutants: z.array(z.object({ status: z.string() })) })),
});

const Counts = z.object({
  killed: z.number().int().nonnegative(),
  survived: z.number().int().nonnegative(),
  noCoverage: z.number().int().nonnegative(),
  timeout: z.number().int().nonnegative(),
  /**
   * Mutants Stryker leaves out of the score: ignored (static code, `ignoreStatic`), and those that did
   * not compile or broke the runner.
   */
  excluded: z.number().int().nonnegative(),
});
type Counts = z.infer<typeof Counts>;

const Entry = Counts.extend({ measured: z.string(), report: z.string() });
const ScoreFile = z.object({
  tests: z.string(),
  files: z.record(z.string(), Entry),
});
type ScoreFile = z.infer<typeof ScoreFile>;

function countsOf(statuses: readonly string[]): Counts {
  const counts: Counts = { killed: 0, survived: 0, noCoverage: 0, timeout: 0, excluded: 0 };
  for (const status of statuses) {
    if (status === "Killed") counts.killed++;
    else if (status === "Survived") counts.survived++;
    else if (status === "NoCoverage") counts.noCoverage++;
    else if (status === "Timeout") counts.timeout++;
    else counts.excluded++;
  }
  return counts;
}

/** Stryker's score: detected (killed or timed out) over every valid mutant, uncovered ones included. */
export function scoreOf(counts: Counts): number | undefined {
  const detected = counts.killed + counts.timeout;
  const valid = detected + counts.survived + counts.noCoverage;
  return valid === 0 ? undefined : (100 * detected) / valid;
}

function add(a: Counts, b: Counts): Counts {
  return {
    killed: a.killed + b.killed,
    survived: a.survived + b.survived,
    noCoverage: a.noCoverage + b.noCoverage,
    timeout: a.timeout + b.timeout,
    excluded: a.excluded + b.excluded,
  };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** The folder a file's score is shown under: shared/services/delivery apart from the other services. */
function folderOf(file: string): string {
  const parts = file.split("/");
  if (parts[1] === "services" && parts[2] === "delivery") return "shared/services/delivery";
  if (parts[1] === "domain" && parts[2] === "delivery") return "shared/domain/delivery";
  return parts.length > 2 ? `shared/${parts[1]}` : "shared (top level)";
}

function main(reports: readonly string[]): void {
  const previous: ScoreFile = (() => {
    try {
      return ScoreFile.parse(JSON.parse(readFileSync(SCORE_FILE, "utf8")));
    } catch {
      return { tests: "MUTATE_TESTS=shared (vitest.mutate.config.ts)", files: {} };
    }
  })();
  const files = { ...previous.files };
  for (const path of [...reports].sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)) {
    const report = Report.parse(JSON.parse(readFileSync(path, "utf8")));
    const measured = statSync(path).mtime.toISOString().slice(0, 16).replace("T", " ");
    for (const [file, { mutants }] of Object.entries(report.files)) {
      const name = relative(process.cwd(), file).startsWith("..") ? file : relative(process.cwd(), file);
      files[name] = { ...countsOf(mutants.map((m) => m.status)), measured: `${measured} UTC`, report: path };
    }
  }
  const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(SCORE_FILE, `${JSON.stringify({ ...previous, files: sorted }, null, 2)}\n`);

  const zero: Counts = { killed: 0, survived: 0, noCoverage: 0, timeout: 0, excluded: 0 };
  const folders = new Map<string, { counts: Counts; run: number; notRun: number }>();
  for (const file of sourceFiles("shared")) {
    const folder = folders.get(folderOf(file)) ?? { counts: zero, run: 0, notRun: 0 };
    const entry = files[file];
    if (entry === undefined) folder.notRun++;
    else {
      folder.counts = add(folder.counts, entry);
      folder.run++;
    }
    folders.set(folderOf(file), folder);
  }
  const percent = (score: number | undefined) => (score === undefined ? "–" : `${score.toFixed(1)} %`);
  const row = (name: string, f: { counts: Counts; run: number; notRun: number }) => [
    name,
    `${f.run}/${f.run + f.notRun}`,
    String(f.counts.killed),
    String(f.counts.timeout),
    String(f.counts.survived),
    String(f.counts.noCoverage),
    percent(scoreOf(f.counts)),
  ];
  const total = { counts: zero, run: 0, notRun: 0 };
  for (const f of folders.values()) {
    total.counts = add(total.counts, f.counts);
    total.run += f.run;
    total.notRun += f.notRun;
  }
  // "files run": files of the folder with an entry; a file with types only has no mutant, so no run
  // reports it, and it stays "not run" here.
  const header = ["folder", "files run", "killed", "timeout", "survived", "no cov.", "score"];
  const rows = [...folders.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([n, f]) => row(n, f));
  const table = [header, ...rows, row("shared/ (files run)", total)];
  console.log(
    markdown
      ? table
          .map(
            (cells, i) => `| ${cells.join(" | ")} |${i === 0 ? `\n|${" --- |".repeat(cells.length)}` : ""}`,
          )
          .join("\n")
      : formatTable(table),
  );
}

const args = process.argv.slice(2);
const markdown = args.includes("--markdown");
main(args.filter((arg) => arg !== "--markdown"));
