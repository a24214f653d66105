/**
 * The payload filter of a subscription (PRODUCT §12): edited as JSON text, validated by the API on
 * save (every problem shown at once, next to the field), and tried here against a catalogue type's
 * example. The try-out runs the router's own code (shared/domain/subscriptions/filter.ts, bundled into
 * the portal by esbuild), so what it says is what the router will do, without a request per click.
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { filterProblems, matchesFilter } from "../../../shared/domain/subscriptions/filter.ts";
import type { ErrorDetail, EventType } from "../api.ts";
import { CodeBlock } from "../components.tsx";

/** The filter text as the API will take it: blank is no filter, otherwise JSON (or why it is not). */
export function parseFilterText(
  text: string,
): { kind: "none" } | { kind: "json"; value: unknown } | { kind: "syntax"; message: string } {
  if (text.trim() === "") return { kind: "none" };
  try {
    return { kind: "json", value: JSON.parse(text) };
  } catch (error) {
    return { kind: "syntax", message: `is not valid JSON (${(error as Error).message})` };
  }
}

type TryResult =
  | { kind: "none"; type: string }
  | { kind: "problems"; problems: ErrorDetail[] }
  | { kind: "result"; type: string; matches: boolean };

function tryFilter(text: string, type: EventType): TryResult {
  const parsed = parseFilterText(text);
  if (parsed.kind === "none") return { kind: "none", type: type.type };
  if (parsed.kind === "syntax")
    return { kind: "problems", problems: [{ path: "filter", message: parsed.message }] };
  const problems = filterProblems(parsed.value);
  if (problems.length > 0) {
    return {
      kind: "problems",
      problems: problems.map((problem) => ({
        path: ["filter", ...problem.path].join("."),
        message: problem.message,
      })),
    };
  }
  return { kind: "result", type: type.type, matches: matchesFilter(parsed.value, type.example) };
}

/** The catalogue type to try first: the first exact type the subscription selects, if it has an example. */
function firstTypeOf(selected: readonly string[], withExamples: readonly EventType[]): string {
  const exact = selected.find((pattern) => withExamples.some((type) => type.type === pattern));
  const byWildcard = withExamples.find((type) =>
    selected.some((pattern) => pattern.endsWith("_*") && type.type.startsWith(pattern.slice(0, -1))),
  );
  return exact ?? byWildcard?.type ?? withExamples[0]?.type ?? "";
}

export function FilterEditor({
  text,
  onChange,
  catalogue,
  selectedTypes,
  invalid,
  describedBy,
  children,
}: {
  text: string;
  onChange: (text: string) => void;
  catalogue: readonly EventType[];
  selectedTypes: readonly string[];
  invalid: boolean;
  describedBy: string | undefined;
  /** The API's problems with the filter, shown under the field. */
  children?: ComponentChildren;
}) {
  const withExamples = catalogue.filter((type) => type.example !== null);
  const [chosen, setChosen] = useState<string | null>(null);
  const [result, setResult] = useState<TryResult | null>(null);
  const typeName = chosen ?? firstTypeOf(selectedTypes, withExamples);
  const type = withExamples.find((candidate) => candidate.type === typeName);
  return (
    <div class="field filter-editor">
      <label for="filter">Payload filter (optional)</label>
      <textarea
        id="filter"
        class="code-input"
        rows={6}
        spellcheck={false}
        value={text}
        placeholder={'{"direction": "incoming", "duration": {"$gte": 30}}'}
        onInput={(e) => {
          onChange((e.target as HTMLTextAreaElement).value);
          setResult(null);
        }}
        aria-invalid={invalid}
        aria-describedby={describedBy}
      />
      <p class="hint" id="filter-hint">
        JSON over the event's <code>data</code>: field names (dotted for nested ones) with a value or
        operators <code>$eq $neq $gt $gte $lt $lte $in $nin $startsWith $endsWith $exist</code>, combined with{" "}
        <code>$and $or $not</code>. Only events whose data matches are delivered. Empty: every event of the
        chosen types.
      </p>
      {children}
      {withExamples.length > 0 ? (
        <div class="filter-try">
          <div class="field">
            <label for="filter-example-type">Example to test against</label>
            <select
              id="filter-example-type"
              value={typeName}
              onChange={(e) => {
                setChosen((e.target as HTMLSelectElement).value);
                setResult(null);
              }}
            >
              {withExamples.map((candidate) => (
                <option key={candidate.type} value={candidate.type}>
                  {candidate.type}
                </option>
              ))}
            </select>
          </div>
          <button
            type="button"
            class="button"
            disabled={type === undefined}
            onClick={() => type !== undefined && setResult(tryFilter(text, type))}
          >
            Test against the example
          </button>
        </div>
      ) : null}
      <div aria-live="polite" data-testid="filter-result">
        {result === null ? null : result.kind === "none" ? (
          <p class="filter-outcome">
            No filter: every <code>{result.type}</code> of the chosen types is delivered.
          </p>
        ) : result.kind === "problems" ? (
          <div class="alert alert-error filter-outcome">
            <p>
              <strong>The filter is not valid</strong> ({result.problems.length}{" "}
              {result.problems.length === 1 ? "problem" : "problems"}):
            </p>
            <ul>
              {result.problems.map((problem) => (
                <li key={`${problem.path}:${problem.message}`}>
                  <code>{problem.path}</code>: {problem.message}
                </li>
              ))}
            </ul>
          </div>
        ) : (
          <p class={`filter-outcome ${result.matches ? "filter-match" : "filter-miss"}`}>
            <strong>{result.matches ? "Matches" : "Does not match"}</strong>: the example{" "}
            <code>{result.type}</code> {result.matches ? "would be delivered" : "would not be delivered"}.
          </p>
        )}
      </div>
      {type !== undefined ? (
        <details class="type-docs">
          <summary class="small">
            The example <code>data</code> of {type.type}
          </summary>
          <figure>
            <CodeBlock class="" label={`Example data of ${type.type} for the filter`}>
              {JSON.stringify(type.example, null, 2)}
            </CodeBlock>
          </figure>
        </details>
      ) : null}
    </div>
  );
}
