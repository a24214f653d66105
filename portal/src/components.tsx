/** Small building blocks shared by the screens. Every value from the API is rendered as text. */
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure, type Stats } from "./api.ts";
import { absoluteTime, percent, relativeTime } from "./format.ts";

export type Loadable<T> =
  | { readonly state: "loading" }
  | { readonly state: "error"; readonly error: unknown }
  | { readonly state: "ready"; readonly data: T };

/** Runs `load` when `deps` change; `reload` runs it again, keeping the old data on screen meanwhile. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]) {
  const [value, setValue] = useState<Loadable<T>>({ state: "loading" });
  const generation = useRef(0);
  const run = useCallback((keep: boolean) => {
    const mine = ++generation.current;
    if (!keep) setValue({ state: "loading" });
    load().then(
      (data) => mine === generation.current && setValue({ state: "ready", data }),
      (error: unknown) => mine === generation.current && setValue({ state: "error", error }),
    );
  }, deps);
  useEffect(() => run(false), [run]);
  return { value, reload: () => run(true) };
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiFailure) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export function ErrorMessage({ error, retry }: { error: unknown; retry?: () => void }) {
  const code = error instanceof ApiFailure ? error.code : null;
  return (
    <div class="alert alert-error" role="alert">
      <p>
        <strong>{code === "NOT_FOUND" ? "Not found." : "Something went wrong."}</strong> {messageOf(error)}
        {code !== null && code !== "NOT_FOUND" ? <span class="muted"> ({code})</span> : null}
      </p>
      {retry ? (
        <button type="button" class="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Show<T>({
  value,
  retry,
  children,
}: {
  value: Loadable<T>;
  retry?: () => void;
  children: (data: T) => ComponentChildren;
}) {
  if (value.state === "loading") return <Loading />;
  if (value.state === "error") return <ErrorMessage error={value.error} {...(retry ? { retry } : {})} />;
  return <>{children(value.data)}</>;
}

/** Relative time, with the absolute one as its tooltip (and, with `both`, beside it). */
export function Time({
  iso,
  both = false,
  ms = false,
}: {
  iso: string | null;
  both?: boolean;
  ms?: boolean;
}) {
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(timer);
  }, []);
  if (iso === null) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={absoluteTime(iso, ms)}>
      {relativeTime(iso)}
      {both ? <span class="muted"> · {absoluteTime(iso, ms)}</span> : null}
    </time>
  );
}

export function CopyButton({ value, label }: { value: string; label: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState("copied");
    } catch {
      setState("failed");
    }
    setTimeout(() => setState("idle"), 2000);
  };
  return (
    <button type="button" class="button button-small copy" onClick={copy} aria-label={`Copy ${label}`}>
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy"}
      <span class="visually-hidden" role="status">
        {state === "copied" ? `${label} copied` : ""}
      </span>
    </button>
  );
}

/** An id in monospace with its copy button. */
export function Id({ value, label }: { value: string; label: string }) {
  return (
    <span class="id">
      <code>{value}</code>
      <CopyButton value={value} label={label} />
    </span>
  );
}

const STATUS_TEXT: Record<string, string> = {
  enabled: "Enabled",
  disabled: "Disabled",
  pending: "Pending",
  succeeded: "Succeeded",
  failed: "Failed, retrying",
  dead: "Dead",
};

const REASON_TEXT: Record<string, string> = {
  manual: "disabled by you",
  endpoint_gone: "the endpoint answered 410 Gone",
  failing: "every attempt failed for days",
};

export function StatusBadge({ status, reason }: { status: string; reason?: string | null }) {
  return (
    <span class={`badge badge-${status}`}>
      {STATUS_TEXT[status] ?? status}
      {reason ? <span class="badge-reason"> — {REASON_TEXT[reason] ?? reason}</span> : null}
    </span>
  );
}

/** Who keeps a managed subscription in step, in words a customer recognises. */
const MANAGERS: Record<string, string> = {
  "voipbin.customer-manager": "your VoIPBIN webhook settings",
  "voipbin.flow-manager": "the activeflow's webhook in VoIPBIN",
};

export function managerOf(managedBy: string | null): string {
  return managedBy === null ? "VoIPBIN" : (MANAGERS[managedBy] ?? managedBy);
}

/** Marks a managed subscription (PRODUCT §11): read-only, changed where it is managed. */
export function ManagedBadge({ managedBy }: { managedBy: string | null }) {
  return (
    <span class="badge badge-managed" title={`Managed by ${managerOf(managedBy)}`}>
      Managed by VoIPBIN
    </span>
  );
}

/** Attempts per hour as stacked bars: succeeded below, failed above. */
export function Sparkline({ stats, large = false }: { stats: Stats; large?: boolean }) {
  const buckets = stats.buckets;
  const width = large ? 600 : 120;
  const height = large ? 80 : 28;
  const max = Math.max(1, ...buckets.map((bucket) => bucket.attempts));
  const step = width / Math.max(1, buckets.length);
  const label =
    stats.attempts === 0
      ? `No attempts in the last ${stats.window}`
      : `${stats.attempts} attempts in the last ${stats.window}, ${stats.failed} failed; success rate ${percent(stats.success_rate)}`;
  return (
    <svg
      class={large ? "sparkline sparkline-large" : "sparkline"}
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="sparkline-axis" />
      {buckets.map((bucket, i) => {
        const ok = (bucket.succeeded / max) * (height - 2);
        const bad = (bucket.failed / max) * (height - 2);
        const x = i * step + step * 0.15;
        const w = Math.max(1, step * 0.7);
        return (
          <g key={bucket.start}>
            {ok > 0 ? <rect class="bar-ok" x={x} y={height - 1 - ok} width={w} height={ok} /> : null}
            {bad > 0 ? <rect class="bar-bad" x={x} y={height - 1 - ok - bad} width={w} height={bad} /> : null}
          </g>
        );
      })}
    </svg>
  );
}

/** A modal confirmation (the native <dialog>: focus is trapped and Escape cancels). */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  danger = false,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dialog-title" onCancel={onCancel} onClose={onCancel}>
      <h2 id="dialog-title">{title}</h2>
      <div class="dialog-body">{children}</div>
      <div class="actions">
        <button type="button" class="button" onClick={onCancel}>
          Cancel
        </button>
        <button
          type="button"
          class={danger ? "button button-danger" : "button button-primary"}
          onClick={onConfirm}
        >
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/** A message that assistive technology announces. */
export function Notice({
  tone,
  children,
}: {
  tone: "success" | "info" | "error";
  children: ComponentChildren;
}) {
  return (
    <div class={`alert alert-${tone}`} role={tone === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/**
 * A block of code or a body that may scroll (it has a maximum height). A region that scrolls must be
 * reachable by keyboard, or a keyboard user cannot read the part below the fold (WCAG 2.1.1; axe's
 * `scrollable-region-focusable`), so the block takes focus and names itself as a region.
 */
export function CodeBlock({
  label,
  class: className = "code-block",
  testId,
  children,
}: {
  label: string;
  class?: string;
  testId?: string;
  children: ComponentChildren;
}) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex lint/a11y/useSemanticElements: a scrolling <pre> must take focus to be scrolled by keyboard, and no interactive element or <section> keeps its preformatted text
    <pre class={className} data-testid={testId} tabIndex={0} role="region" aria-label={label}>
      {children}
    </pre>
  );
}
