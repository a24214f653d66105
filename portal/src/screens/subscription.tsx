/**
 * One subscription: its settings, its secret (reveal, copy, rotate), a test event, enable/disable,
 * delete, its statistics, and its delivery log with recovery.
 */
import { useState } from "preact/hooks";
import { api, type Subscription } from "../api.ts";
import {
  CodeBlock,
  ConfirmDialog,
  CopyButton,
  ErrorMessage,
  Id,
  Loading,
  ManagedBadge,
  managerOf,
  messageOf,
  Notice,
  Show,
  Sparkline,
  StatusBadge,
  Time,
  useLoad,
} from "../components.tsx";
import { milliseconds, percent } from "../format.ts";
import { href, navigate } from "../router.ts";
import { DeliveryTable } from "./delivery-table.tsx";
import { EventTypeChips } from "./subscriptions.tsx";

type Flash = { tone: "success" | "info" | "error"; text: string } | null;

/**
 * While the endpoint is failing (docs/delivery.md, "Warnings before loss"): since when, and when
 * auto-disable will stop its deliveries unless one succeeds first.
 */
function FailingBanner({ failing }: { failing: NonNullable<Subscription["failing"]> }) {
  return (
    <section class="alert alert-warning" aria-labelledby="failing-heading" data-testid="failing-banner">
      <h2 id="failing-heading">This endpoint is failing</h2>
      <p>
        Every attempt since <Time iso={failing.since} both /> has failed. Unless one succeeds, this
        subscription is disabled <Time iso={failing.auto_disable_at} both /> and its events are no longer
        delivered.
      </p>
      <p>
        Check the failed attempts in the delivery log below. Your other endpoints can subscribe to{" "}
        <code>webhook_endpoint_failing</code>, <code>webhook_delivery_exhausted</code> and{" "}
        <code>webhook_endpoint_recovered</code> to hear of this as it happens.
      </p>
    </section>
  );
}

function Secret({ id, managed, onFlash }: { id: string; managed: boolean; onFlash: (flash: Flash) => void }) {
  const [secret, setSecret] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const reveal = async () => {
    setBusy(true);
    try {
      setSecret((await api.getSecret(id)).secret);
    } catch (error) {
      onFlash({ tone: "error", text: messageOf(error) });
    } finally {
      setBusy(false);
    }
  };
  const rotate = async () => {
    setConfirming(false);
    setBusy(true);
    try {
      setSecret((await api.rotateSecret(id)).secret);
      onFlash({
        tone: "success",
        text: "New secret created. For the next 24 hours every delivery is signed with both the new and the previous secret.",
      });
    } catch (error) {
      onFlash({ tone: "error", text: messageOf(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="secret-heading">
      <h2 id="secret-heading">Signing secret</h2>
      <p class="muted">
        Verify each delivery's <code>webhook-signature</code> with this secret (Standard Webhooks).
        {managed ? (
          <>
            {" "}
            It is your VoIPBIN webhook secret in Standard Webhooks form; <code>x-voipbin-signature</code> is
            keyed by the VoIPBIN secret itself, as before. Change it in VoIPBIN.
          </>
        ) : null}
      </p>
      <div class="secret">
        {secret === null ? (
          <code class="secret-hidden">
            <span class="visually-hidden">The secret is hidden.</span>
            <span aria-hidden="true">whsec_••••••••••••••••••••••••</span>
          </code>
        ) : (
          <code class="secret-value" data-testid="secret">
            {secret}
          </code>
        )}
        <div class="actions">
          {secret === null ? (
            <button type="button" class="button" onClick={reveal} disabled={busy}>
              Reveal secret
            </button>
          ) : (
            <>
              <CopyButton value={secret} label="secret" />
              <button type="button" class="button button-small" onClick={() => setSecret(null)}>
                Hide
              </button>
            </>
          )}
          {managed ? null : (
            <button type="button" class="button" onClick={() => setConfirming(true)} disabled={busy}>
              Rotate secret
            </button>
          )}
        </div>
      </div>
      <ConfirmDialog
        open={confirming}
        title="Rotate the signing secret?"
        confirmLabel="Rotate secret"
        onConfirm={rotate}
        onCancel={() => setConfirming(false)}
      >
        <p>A new secret is created now. Nothing is lost while your endpoint switches over:</p>
        <ul>
          <li>
            For 24 hours, every delivery carries two signatures: one with the new secret, one with the
            previous.
          </li>
          <li>After 24 hours only the new secret signs.</li>
          <li>Rotating again within the 24 hours ends the older secret's overlap at once.</li>
        </ul>
      </ConfirmDialog>
    </section>
  );
}

function StatsPanel({ id, refreshed }: { id: string; refreshed: number }) {
  const [window, setWindow] = useState<"24h" | "7d">("24h");
  const { value, reload } = useLoad(() => api.stats(id, window), [id, window, refreshed]);
  return (
    <section class="card" aria-labelledby="stats-heading">
      <div class="section-header">
        <h2 id="stats-heading">Delivery health</h2>
        <fieldset class="segmented">
          <legend class="visually-hidden">Window</legend>
          {(["24h", "7d"] as const).map((option) => (
            <button
              type="button"
              key={option}
              class={option === window ? "button button-small active" : "button button-small"}
              aria-pressed={option === window}
              onClick={() => setWindow(option)}
            >
              {option === "24h" ? "24 hours" : "7 days"}
            </button>
          ))}
        </fieldset>
      </div>
      <Show value={value} retry={reload}>
        {(stats) => (
          <>
            <dl class="metrics">
              <div>
                <dt>Success rate</dt>
                <dd>{percent(stats.success_rate)}</dd>
              </div>
              <div>
                <dt>Attempts</dt>
                <dd>{stats.attempts}</dd>
              </div>
              <div>
                <dt>Failed</dt>
                <dd>{stats.failed}</dd>
              </div>
              <div>
                <dt>Latency p50 / p95</dt>
                <dd>
                  {milliseconds(stats.latency_ms.p50)} / {milliseconds(stats.latency_ms.p95)}
                </dd>
              </div>
            </dl>
            <Sparkline stats={stats} large />
            <p class="muted small legend">
              <span class="swatch swatch-ok" aria-hidden="true" /> succeeded{" "}
              <span class="swatch swatch-bad" aria-hidden="true" /> failed · one bar per hour
              {stats.complete ? "" : " · the log is large: only its newest part was counted"}
            </p>
          </>
        )}
      </Show>
    </section>
  );
}

const STATUSES = ["", "pending", "succeeded", "failed", "dead"] as const;

function DeliveryLog({
  subscription,
  query,
  refreshed,
  onRefresh,
}: {
  subscription: Subscription;
  query: URLSearchParams;
  refreshed: number;
  onRefresh: () => void;
}) {
  const status = query.get("status") ?? "";
  // Pages are followed by cursor; the stack of earlier cursors makes "Newer" go back.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const { value, reload } = useLoad(
    () => api.listDeliveries(subscription.id, { status: status || undefined, cursor, limit: 20 }),
    [subscription.id, status, cursor, refreshed],
  );
  const setStatus = (next: string) => {
    setCursors([undefined]);
    navigate(href.subscription(subscription.id, next === "" ? {} : { status: next }), { replace: true });
  };
  return (
    <section class="card" aria-labelledby="log-heading">
      <div class="section-header">
        <h2 id="log-heading">Delivery log</h2>
        <div class="actions">
          <div class="field field-inline">
            <label for="status-filter">Status</label>
            <select
              id="status-filter"
              value={status}
              onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}
            >
              {STATUSES.map((option) => (
                <option key={option} value={option}>
                  {option === "" ? "All" : option}
                </option>
              ))}
            </select>
          </div>
          <button type="button" class="button button-small" onClick={onRefresh}>
            Refresh
          </button>
        </div>
      </div>
      <Show value={value} retry={reload}>
        {(page) =>
          page.items.length === 0 ? (
            <p class="muted empty-log">
              {status === ""
                ? "No deliveries yet. Send a test event to see one here."
                : `No ${status} deliveries.`}
            </p>
          ) : (
            <>
              <DeliveryTable
                deliveries={page.items}
                caption="Deliveries, newest first"
                lead={{ heading: "Created", cell: (delivery) => <Time iso={delivery.created_at} /> }}
              />
              <div class="pagination">
                <button
                  type="button"
                  class="button button-small"
                  disabled={cursors.length === 1}
                  onClick={() => setCursors(cursors.slice(0, -1))}
                >
                  Newer
                </button>
                <span class="muted small">Page {cursors.length}</span>
                <button
                  type="button"
                  class="button button-small"
                  disabled={page.next_cursor === null}
                  onClick={() => page.next_cursor !== null && setCursors([...cursors, page.next_cursor])}
                >
                  Older
                </button>
              </div>
            </>
          )
        }
      </Show>
      <Recover subscription={subscription} onDone={onRefresh} />
    </section>
  );
}

/** `datetime-local` value (local time, minutes) for an instant. */
function localInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function Recover({ subscription, onDone }: { subscription: Subscription; onDone: () => void }) {
  const [since, setSince] = useState(() => localInputValue(new Date(Date.now() - 3600_000)));
  const [state, setState] = useState<{ busy: boolean; result: string | null; error: unknown }>({
    busy: false,
    result: null,
    error: null,
  });
  const recover = async (event: Event) => {
    event.preventDefault();
    const start = new Date(since);
    if (Number.isNaN(start.getTime())) {
      setState({ busy: false, result: null, error: new Error("Pick a date and time.") });
      return;
    }
    setState({ busy: true, result: null, error: null });
    try {
      let total = 0;
      let from = start.toISOString();
      // A large recovery answers in parts: continue from where each part stopped.
      for (;;) {
        const part = await api.recover(subscription.id, from);
        total += part.count;
        if (part.complete || part.next_since === null) break;
        from = part.next_since;
      }
      setState({
        busy: false,
        result:
          total === 0
            ? "Nothing to recover: no failed or dead deliveries since then."
            : `${total} ${total === 1 ? "delivery is" : "deliveries are"} being sent again.`,
        error: null,
      });
      onDone();
    } catch (error) {
      setState({ busy: false, result: null, error });
    }
  };
  return (
    <form class="recover" onSubmit={recover}>
      <h3>Recover failed deliveries</h3>
      <p class="muted small">Sends every failed or dead delivery created since this time again, once each.</p>
      <div class="recover-row">
        <div class="field">
          <label for="recover-since">Since</label>
          <input
            id="recover-since"
            type="datetime-local"
            value={since}
            max={localInputValue(new Date())}
            onInput={(e) => setSince((e.target as HTMLInputElement).value)}
          />
        </div>
        <button type="submit" class="button" disabled={state.busy || subscription.status !== "enabled"}>
          {state.busy ? "Recovering…" : "Recover"}
        </button>
      </div>
      {subscription.status !== "enabled" ? (
        <p class="hint">Enable the subscription to recover deliveries.</p>
      ) : null}
      {state.result ? <Notice tone="success">{state.result}</Notice> : null}
      {state.error ? <ErrorMessage error={state.error} /> : null}
    </form>
  );
}

/** Disable/enable and delete: a customer's own subscription only (a managed one is read-only). */
function ManageButtons({
  subscription,
  busy,
  act,
  onDelete,
}: {
  subscription: Subscription;
  busy: boolean;
  act: (work: () => Promise<Flash>) => Promise<void>;
  onDelete: () => void;
}) {
  const enabled = subscription.status === "enabled";
  return (
    <>
      <button
        type="button"
        class="button"
        disabled={busy}
        onClick={() =>
          act(async () => {
            await api.updateSubscription(subscription.id, { status: enabled ? "disabled" : "enabled" });
            return {
              tone: "success",
              text: enabled ? "Disabled: nothing is delivered until you enable it again." : "Enabled.",
            };
          })
        }
      >
        {enabled ? "Disable" : "Enable"}
      </button>
      <button type="button" class="button button-danger" disabled={busy} onClick={onDelete}>
        Delete
      </button>
    </>
  );
}

function Details({
  subscription,
  reload,
  refreshed,
}: {
  subscription: Subscription;
  reload: () => void;
  refreshed: number;
}) {
  const [flash, setFlash] = useState<Flash>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<Flash>) => {
    setBusy(true);
    try {
      setFlash(await work());
      reload();
    } catch (error) {
      setFlash({ tone: "error", text: messageOf(error) });
    } finally {
      setBusy(false);
    }
  };
  const enabled = subscription.status === "enabled";
  const headers = Object.entries(subscription.headers);
  return (
    <>
      <div class="page-header">
        <div>
          <h1 class="url-title">
            <span class="method">{subscription.method}</span> <span class="url">{subscription.url}</span>
          </h1>
          <StatusBadge status={subscription.status} reason={subscription.disabled_reason} />
          {subscription.managed ? <ManagedBadge managedBy={subscription.managed_by} /> : null}
        </div>
        <div class="actions">
          {subscription.managed ? null : (
            <a class="button" href={href.editSubscription(subscription.id)}>
              Edit
            </a>
          )}
          <button
            type="button"
            class="button"
            disabled={busy || !enabled}
            onClick={() =>
              act(async () => {
                const { delivery_id } = await api.sendTest(subscription.id);
                return { tone: "success", text: `Test event queued (delivery ${delivery_id}).` };
              })
            }
          >
            Send test event
          </button>
          {subscription.managed ? null : (
            <ManageButtons
              subscription={subscription}
              busy={busy}
              act={act}
              onDelete={() => setConfirmDelete(true)}
            />
          )}
        </div>
      </div>
      {subscription.managed ? (
        <Notice tone="info">
          This subscription is managed by {managerOf(subscription.managed_by)}: it delivers every event to
          your VoIPBIN webhook URL with VoIPBIN's rules (only server errors and timeouts are retried;
          redirects are followed). It cannot be edited, disabled, rotated or deleted here; change or remove
          the webhook in VoIPBIN.
        </Notice>
      ) : null}
      {subscription.failing ? <FailingBanner failing={subscription.failing} /> : null}
      {flash ? <Notice tone={flash.tone}>{flash.text}</Notice> : null}
      <div class="grid">
        <section class="card" aria-labelledby="settings-heading">
          <h2 id="settings-heading">Settings</h2>
          <dl class="properties">
            <dt>ID</dt>
            <dd>
              <Id value={subscription.id} label="subscription ID" />
            </dd>
            <dt>Event types</dt>
            <dd>
              <EventTypeChips types={subscription.event_types} max={20} />
            </dd>
            <dt>Activeflow filter</dt>
            <dd>
              {subscription.activeflow_id ? (
                <code>{subscription.activeflow_id}</code>
              ) : (
                <span class="muted">none</span>
              )}
            </dd>
            <dt>Payload filter</dt>
            <dd>
              {subscription.filter ? (
                <CodeBlock testId="subscription-filter" label="Payload filter">
                  {JSON.stringify(subscription.filter, null, 2)}
                </CodeBlock>
              ) : (
                <span class="muted">none: every event of its types</span>
              )}
            </dd>
            <dt>Description</dt>
            <dd>{subscription.description ?? <span class="muted">none</span>}</dd>
            <dt>Custom headers</dt>
            <dd>
              {headers.length === 0 ? (
                <span class="muted">none</span>
              ) : (
                <ul class="plain">
                  {headers.map(([name, value]) => (
                    <li key={name}>
                      <code>
                        {name}: {value}
                      </code>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
            <dt>Created</dt>
            <dd>
              <Time iso={subscription.created_at} both />
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time iso={subscription.updated_at} both />
            </dd>
          </dl>
        </section>
        <div class="stack">
          <Secret id={subscription.id} managed={subscription.managed} onFlash={setFlash} />
          <StatsPanel id={subscription.id} refreshed={refreshed} />
        </div>
      </div>
      <ConfirmDialog
        open={confirmDelete}
        title="Delete this subscription?"
        confirmLabel="Delete subscription"
        danger
        onCancel={() => setConfirmDelete(false)}
        onConfirm={() => {
          setConfirmDelete(false);
          setBusy(true);
          api.deleteSubscription(subscription.id).then(
            () => navigate(href.subscriptions()),
            (error: unknown) => {
              setBusy(false);
              setFlash({ tone: "error", text: messageOf(error) });
            },
          );
        }}
      >
        <p>
          Deliveries to <code>{subscription.url}</code> stop at once; queued ones are dropped. This cannot be
          undone.
        </p>
      </ConfirmDialog>
    </>
  );
}

export function SubscriptionPage({ id, query }: { id: string; query: URLSearchParams }) {
  const { value, reload } = useLoad(() => api.getSubscription(id), [id]);
  // The log's Refresh (and a recovery) reload the statistics too.
  const [refreshed, setRefreshed] = useState(0);
  const saved = query.get("saved");
  return (
    <>
      <nav class="breadcrumbs" aria-label="Breadcrumbs">
        <a href={href.subscriptions()}>Subscriptions</a> / Subscription
      </nav>
      {saved ? (
        <Notice tone="success">{saved === "created" ? "Subscription created." : "Changes saved."}</Notice>
      ) : null}
      {value.state === "loading" ? <Loading /> : null}
      {value.state === "error" ? <ErrorMessage error={value.error} retry={reload} /> : null}
      {value.state === "ready" ? (
        <>
          <Details subscription={value.data} reload={reload} refreshed={refreshed} />
          <DeliveryLog
            subscription={value.data}
            query={query}
            refreshed={refreshed}
            onRefresh={() => setRefreshed((n) => n + 1)}
          />
        </>
      ) : null}
    </>
  );
}
