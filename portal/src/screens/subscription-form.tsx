/**
 * Create or edit a subscription. The API validates everything (the same rules for every client);
 * its `details` are shown next to the fields they name, all at once.
 */
import { useMemo, useState } from "preact/hooks";
import { ApiFailure, api, type ErrorDetail, type EventType, type Subscription } from "../api.ts";
import { CodeBlock, ErrorMessage, Show, useLoad } from "../components.tsx";
import { href, navigate } from "../router.ts";
import { FilterEditor, parseFilterText } from "./filter-editor.tsx";

const METHODS = ["POST", "PUT", "GET", "DELETE"] as const;
const MAX_HEADERS = 10;

interface HeaderRow {
  readonly key: number;
  name: string;
  value: string;
}

interface FormState {
  url: string;
  method: string;
  eventTypes: string[];
  activeflowId: string;
  description: string;
  headers: HeaderRow[];
  /** The payload filter as JSON text; blank: none. */
  filter: string;
}

let rowKeys = 0;

/** The API field each part of the form's state is sent as. */
const FIELD_OF_STATE: Record<keyof FormState, string> = {
  url: "url",
  method: "method",
  eventTypes: "event_types",
  activeflowId: "activeflow_id",
  description: "description",
  headers: "headers",
  filter: "filter",
};

function initialState(subscription: Subscription | null): FormState {
  return {
    url: subscription?.url ?? "",
    method: subscription?.method ?? "POST",
    eventTypes: subscription ? [...subscription.event_types] : [],
    activeflowId: subscription?.activeflow_id ?? "",
    description: subscription?.description ?? "",
    headers: Object.entries(subscription?.headers ?? {}).map(([name, value]) => ({
      key: rowKeys++,
      name,
      value,
    })),
    filter: subscription?.filter ? JSON.stringify(subscription.filter, null, 2) : "",
  };
}

/** The field a detail's path belongs to (`event_types.2` → event_types, `headers.x-a` → headers). */
function fieldOf(path: string): string {
  const [first = ""] = path.split(".");
  return ["url", "method", "event_types", "activeflow_id", "description", "headers", "filter"].includes(first)
    ? first
    : "form";
}

function FieldErrors({ id, errors }: { id: string; errors: readonly ErrorDetail[] }) {
  if (errors.length === 0) return null;
  return (
    <ul class="field-error" id={id}>
      {errors.map((error) => (
        <li key={`${error.path}:${error.message}`}>
          {error.path.includes(".") ? <code>{error.path}</code> : null} {error.message}
        </li>
      ))}
    </ul>
  );
}

function EventTypePicker({
  catalogue,
  selected,
  onChange,
  describedBy,
  invalid,
}: {
  catalogue: EventType[];
  selected: string[];
  onChange: (types: string[]) => void;
  describedBy: string;
  invalid: boolean;
}) {
  const [filter, setFilter] = useState("");
  const resources = useMemo(() => {
    const byResource = new Map<string, EventType[]>();
    for (const type of catalogue)
      byResource.set(type.resource, [...(byResource.get(type.resource) ?? []), type]);
    return [...byResource];
  }, [catalogue]);
  const chosen = new Set(selected);
  const toggle = (pattern: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(pattern);
    else next.delete(pattern);
    onChange([...next]);
  };
  const all = chosen.has("*");
  const needle = filter.trim().toLowerCase();
  const custom = selected.filter(
    (pattern) =>
      pattern !== "*" && !pattern.endsWith("_*") && !catalogue.some((type) => type.type === pattern),
  );
  return (
    <fieldset class="picker" aria-describedby={describedBy} aria-invalid={invalid}>
      <legend>Event types</legend>
      <p class="hint">
        Pick exact types, every type of a resource (<code>call_*</code>), or everything (<code>*</code>).
      </p>
      <div class="picker-selected" aria-live="polite">
        {selected.length === 0 ? (
          <span class="muted">Nothing selected yet.</span>
        ) : (
          selected.map((pattern) => (
            <button
              type="button"
              class="chip chip-removable"
              key={pattern}
              onClick={() => toggle(pattern, false)}
              aria-label={`Remove ${pattern}`}
            >
              {pattern} <span aria-hidden="true">×</span>
            </button>
          ))
        )}
      </div>
      <label class="checkbox picker-all">
        <input
          type="checkbox"
          checked={all}
          onChange={(e) => toggle("*", (e.target as HTMLInputElement).checked)}
        />
        <span>
          <strong>All events</strong> <code>*</code>
        </span>
      </label>
      <div class="field">
        <label for="event-filter">Filter event types</label>
        <input
          id="event-filter"
          type="search"
          value={filter}
          placeholder="e.g. hangup"
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
          disabled={all}
        />
      </div>
      <div class="picker-groups">
        {resources.map(([resource, types]) => {
          const visible = types.filter(
            (type) =>
              needle === "" || type.type.includes(needle) || type.description.toLowerCase().includes(needle),
          );
          if (visible.length === 0) return null;
          const wildcard = `${resource}_*`;
          const wholeResource = chosen.has(wildcard);
          return (
            <details
              class="picker-group"
              key={resource}
              open={needle !== "" || types.some((t) => chosen.has(t.type))}
            >
              <summary>
                {resource}{" "}
                <span class="muted small">
                  ({types.filter((t) => chosen.has(t.type)).length || (wholeResource ? "all" : 0)}/
                  {types.length})
                </span>
              </summary>
              <label class="checkbox">
                <input
                  type="checkbox"
                  checked={all || wholeResource}
                  disabled={all}
                  onChange={(e) => toggle(wildcard, (e.target as HTMLInputElement).checked)}
                />
                <span>
                  Every {resource} event <code>{wildcard}</code>
                </span>
              </label>
              {visible.map((type) => (
                <div key={type.type}>
                  <label class="checkbox">
                    <input
                      type="checkbox"
                      checked={all || wholeResource || chosen.has(type.type)}
                      disabled={all || wholeResource}
                      onChange={(e) => toggle(type.type, (e.target as HTMLInputElement).checked)}
                    />
                    <span>
                      <code>{type.type}</code> <span class="muted small">{type.description}</span>
                    </span>
                  </label>
                  <TypeDocs type={type} />
                </div>
              ))}
            </details>
          );
        })}
      </div>
      {custom.length > 0 ? (
        <p class="hint">
          Also selected, not in the catalogue: {custom.join(", ")} (the API will say whether it accepts them).
        </p>
      ) : null}
    </fieldset>
  );
}

/**
 * A type's example and the JSON Schema of its data (PRODUCT §12), drawn only once opened: the whole
 * catalogue's schemas would be megabytes of DOM.
 */
function TypeDocs({ type }: { type: EventType }) {
  const [open, setOpen] = useState(false);
  if (type.schema === null && type.example === null) return null;
  return (
    <details class="type-docs" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary class="small">Example and schema of {type.type}</summary>
      {open ? (
        <div>
          <p class="small muted">
            Example <code>data</code> (the body is <code>{`{"type":"${type.type}","data":…}`}</code>)
          </p>
          <figure>
            <CodeBlock class="" label={`Example of ${type.type}`}>
              {JSON.stringify(type.example, null, 2)}
            </CodeBlock>
          </figure>
          <p class="small muted">
            JSON Schema of <code>data</code>
          </p>
          <figure>
            <CodeBlock class="" label={`Schema of ${type.type}`}>
              {JSON.stringify(type.schema, null, 2)}
            </CodeBlock>
          </figure>
        </div>
      ) : null}
    </details>
  );
}

function Form({ subscription, catalogue }: { subscription: Subscription | null; catalogue: EventType[] }) {
  const [state, setState] = useState(() => initialState(subscription));
  const [errors, setErrors] = useState<readonly ErrorDetail[]>([]);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (change: Partial<FormState>) => {
    setState((current) => ({ ...current, ...change }));
    // An edited field's errors are answered for; the others stay until the next save.
    const edited = new Set(Object.keys(change).map((key) => FIELD_OF_STATE[key as keyof FormState]));
    setErrors((current) => current.filter((error) => !edited.has(fieldOf(error.path))));
  };
  const errorsOf = (field: string) => errors.filter((error) => fieldOf(error.path) === field);
  const invalid = (field: string) => errorsOf(field).length > 0;
  const describe = (field: string, hint?: string) =>
    [hint, invalid(field) ? `${field}-error` : undefined].filter(Boolean).join(" ") || undefined;

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setErrors([]);
    setFailure(null);
    const headers = Object.fromEntries(
      state.headers.filter((row) => row.name.trim() !== "").map((row) => [row.name.trim(), row.value]),
    );
    const filter = parseFilterText(state.filter);
    const body: Record<string, unknown> = {
      url: state.url.trim(),
      method: state.method,
      event_types: state.eventTypes,
      activeflow_id: state.activeflowId.trim() === "" ? null : state.activeflowId.trim(),
      description: state.description.trim() === "" ? null : state.description.trim(),
      headers: Object.keys(headers).length === 0 ? null : headers,
      // Text that is not JSON is sent as it is: the API refuses it and lists every other problem with
      // it, and the portal puts the JSON parser's message in place of the API's one for the filter.
      filter: filter.kind === "none" ? null : filter.kind === "json" ? filter.value : state.filter,
    };
    try {
      const saved =
        subscription === null
          ? await api.createSubscription(body)
          : await api.updateSubscription(subscription.id, body);
      navigate(href.subscription(saved.id, { saved: subscription === null ? "created" : "updated" }));
    } catch (error) {
      if (error instanceof ApiFailure && error.code === "VALIDATION_FAILED" && error.details.length > 0) {
        setErrors(
          filter.kind === "syntax"
            ? [
                ...error.details.filter((detail) => fieldOf(detail.path) !== "filter"),
                { path: "filter", message: filter.message },
              ]
            : error.details,
        );
        // Focus the first invalid field, so keyboard and screen-reader users land on it.
        requestAnimationFrame(() => document.querySelector<HTMLElement>("[aria-invalid='true']")?.focus());
      } else {
        setFailure(error);
      }
    } finally {
      setBusy(false);
    }
  };

  const formErrors = errorsOf("form");
  return (
    <form class="card form" onSubmit={submit} noValidate>
      {errors.length > 0 ? (
        <div class="alert alert-error" role="alert">
          <p>
            <strong>The subscription was not saved.</strong> Fix{" "}
            {errors.length === 1 ? "this problem" : `these ${errors.length} problems`}:
          </p>
          <ul>
            {errors.map((error) => (
              <li key={`${error.path}:${error.message}`}>
                <code>{error.path}</code>: {error.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {failure !== null ? <ErrorMessage error={failure} /> : null}
      <FieldErrors id="form-error" errors={formErrors} />

      <div class="field">
        <label for="url">Endpoint URL</label>
        <input
          id="url"
          type="url"
          inputMode="url"
          required
          value={state.url}
          placeholder="https://example.com/webhooks/voipbin"
          onInput={(e) => set({ url: (e.target as HTMLInputElement).value })}
          aria-invalid={invalid("url")}
          aria-describedby={describe("url", "url-hint")}
        />
        <p class="hint" id="url-hint">
          Where each event is sent. It must not point at a private or internal address.
        </p>
        <FieldErrors id="url-error" errors={errorsOf("url")} />
      </div>

      <div class="field">
        <label for="method">HTTP method</label>
        <select
          id="method"
          value={state.method}
          onChange={(e) => set({ method: (e.target as HTMLSelectElement).value })}
          aria-invalid={invalid("method")}
          aria-describedby={describe("method")}
        >
          {METHODS.map((method) => (
            <option key={method} value={method}>
              {method}
            </option>
          ))}
        </select>
        <FieldErrors id="method-error" errors={errorsOf("method")} />
      </div>

      <div class="field">
        <EventTypePicker
          catalogue={catalogue}
          selected={state.eventTypes}
          onChange={(eventTypes) => set({ eventTypes })}
          describedBy={describe("event_types") ?? ""}
          invalid={invalid("event_types")}
        />
        <FieldErrors id="event_types-error" errors={errorsOf("event_types")} />
      </div>

      <div class="field">
        <label for="activeflow">Activeflow filter (optional)</label>
        <input
          id="activeflow"
          value={state.activeflowId}
          placeholder="UUID of an activeflow"
          spellcheck={false}
          onInput={(e) => set({ activeflowId: (e.target as HTMLInputElement).value })}
          aria-invalid={invalid("activeflow_id")}
          aria-describedby={describe("activeflow_id", "activeflow-hint")}
        />
        <p class="hint" id="activeflow-hint">
          Deliver only events whose <code>data.activeflow_id</code> is this id.
        </p>
        <FieldErrors id="activeflow_id-error" errors={errorsOf("activeflow_id")} />
      </div>

      <div class="field">
        <label for="description">Description (optional)</label>
        <textarea
          id="description"
          rows={2}
          maxLength={256}
          value={state.description}
          onInput={(e) => set({ description: (e.target as HTMLTextAreaElement).value })}
          aria-invalid={invalid("description")}
          aria-describedby={describe("description")}
        />
        <FieldErrors id="description-error" errors={errorsOf("description")} />
      </div>

      <FilterEditor
        text={state.filter}
        onChange={(filter) => set({ filter })}
        catalogue={catalogue}
        selectedTypes={state.eventTypes}
        invalid={invalid("filter")}
        describedBy={describe("filter", "filter-hint")}
      >
        <FieldErrors id="filter-error" errors={errorsOf("filter")} />
      </FilterEditor>

      <fieldset class="field headers" aria-describedby={describe("headers", "headers-hint")}>
        <legend>Custom headers (optional)</legend>
        <p class="hint" id="headers-hint">
          Sent with every delivery, e.g. a token your endpoint checks. At most {MAX_HEADERS}.
        </p>
        {state.headers.map((row, index) => (
          <div class="header-row" key={row.key}>
            <div class="field">
              <label for={`header-name-${row.key}`}>Header {index + 1} name</label>
              <input
                id={`header-name-${row.key}`}
                value={row.name}
                spellcheck={false}
                aria-invalid={invalid("headers")}
                onInput={(e) => {
                  row.name = (e.target as HTMLInputElement).value;
                  set({ headers: [...state.headers] });
                }}
              />
            </div>
            <div class="field">
              <label for={`header-value-${row.key}`}>Header {index + 1} value</label>
              <input
                id={`header-value-${row.key}`}
                value={row.value}
                spellcheck={false}
                onInput={(e) => {
                  row.value = (e.target as HTMLInputElement).value;
                  set({ headers: [...state.headers] });
                }}
              />
            </div>
            <button
              type="button"
              class="button button-small"
              aria-label={`Remove header ${index + 1}`}
              onClick={() => set({ headers: state.headers.filter((other) => other !== row) })}
            >
              Remove
            </button>
          </div>
        ))}
        {state.headers.length < MAX_HEADERS ? (
          <button
            type="button"
            class="button button-small"
            onClick={() => set({ headers: [...state.headers, { key: rowKeys++, name: "", value: "" }] })}
          >
            Add a header
          </button>
        ) : null}
        <FieldErrors id="headers-error" errors={errorsOf("headers")} />
      </fieldset>

      <div class="actions">
        <a class="button" href={subscription ? href.subscription(subscription.id) : href.subscriptions()}>
          Cancel
        </a>
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? "Saving…" : subscription === null ? "Create subscription" : "Save changes"}
        </button>
      </div>
    </form>
  );
}

export function SubscriptionForm({ id }: { id: string | null }) {
  const { value, reload } = useLoad(async () => {
    const [catalogue, subscription] = await Promise.all([
      api.eventTypes().then((page) => page.items),
      id === null ? Promise.resolve(null) : api.getSubscription(id),
    ]);
    return { catalogue, subscription };
  }, [id]);
  return (
    <>
      <nav class="breadcrumbs" aria-label="Breadcrumbs">
        <a href={href.subscriptions()}>Subscriptions</a>
        {id !== null ? (
          <>
            {" / "}
            <a href={href.subscription(id)}>Subscription</a>
          </>
        ) : null}
      </nav>
      <h1>{id === null ? "New subscription" : "Edit subscription"}</h1>
      <Show value={value} retry={reload}>
        {({ catalogue, subscription }) => <Form subscription={subscription} catalogue={catalogue} />}
      </Show>
    </>
  );
}
