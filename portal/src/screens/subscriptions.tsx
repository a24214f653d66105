/** The subscriptions list: where each one delivers, what, its status, and its last 24 hours. */
import { useEffect, useState } from "preact/hooks";
import {
  type ActiveflowDestination,
  allSubscriptions,
  api,
  type Stats,
  type Subscription,
  someActiveflowDestinations,
} from "../api.ts";
import { ManagedBadge, Show, Sparkline, StatusBadge, Time, useLoad } from "../components.tsx";
import { percent } from "../format.ts";
import { href } from "../router.ts";

/** Stats requests in flight at once: a customer may have 50 subscriptions. */
const STATS_CONCURRENCY = 6;

function useStats(subscriptions: readonly Subscription[]): ReadonlyMap<string, Stats | "error"> {
  const [stats, setStats] = useState<ReadonlyMap<string, Stats | "error">>(new Map());
  useEffect(() => {
    let cancelled = false;
    const queue = [...subscriptions];
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const id = next.id;
        const result = await api.stats(id, "24h").catch(() => "error" as const);
        if (cancelled) return;
        setStats((current) => new Map(current).set(id, result));
      }
    };
    for (let i = 0; i < STATS_CONCURRENCY; i++) void worker();
    return () => {
      cancelled = true;
    };
  }, [subscriptions]);
  return stats;
}

export function EventTypeChips({ types, max = 3 }: { types: readonly string[]; max?: number }) {
  const shown = types.slice(0, max);
  return (
    <span class="chips">
      {shown.map((type) => (
        <span class="chip" key={type}>
          {type}
        </span>
      ))}
      {types.length > max ? <span class="chip chip-more">+{types.length - max} more</span> : null}
    </span>
  );
}

function Rows({ subscriptions }: { subscriptions: Subscription[] }) {
  const stats = useStats(subscriptions);
  if (subscriptions.length === 0) {
    return (
      <div class="empty card">
        <h2>No subscriptions yet</h2>
        <p>A subscription says where to deliver which events. Create one to start receiving webhooks.</p>
        <a class="button button-primary" href={href.newSubscription()}>
          Create a subscription
        </a>
      </div>
    );
  }
  return (
    <table class="table responsive">
      <caption class="visually-hidden">Your subscriptions</caption>
      <thead>
        <tr>
          <th scope="col">Endpoint</th>
          <th scope="col">Event types</th>
          <th scope="col">Status</th>
          <th scope="col">Success (24 h)</th>
          <th scope="col">Activity (24 h)</th>
        </tr>
      </thead>
      <tbody>
        {subscriptions.map((subscription) => {
          const stat = stats.get(subscription.id);
          return (
            <tr key={subscription.id}>
              <td data-label="Endpoint" class="cell-primary">
                <div class="endpoint">
                  <span class="method">{subscription.method}</span>{" "}
                  <a class="url" href={href.subscription(subscription.id)}>
                    {subscription.url}
                  </a>
                </div>
                {subscription.description ? <div class="muted small">{subscription.description}</div> : null}
                <div class="muted small">
                  Created <Time iso={subscription.created_at} />
                </div>
              </td>
              <td data-label="Event types">
                <EventTypeChips types={subscription.event_types} />
              </td>
              <td data-label="Status">
                <StatusBadge status={subscription.status} reason={subscription.disabled_reason} />
                {subscription.managed ? <ManagedBadge managedBy={subscription.managed_by} /> : null}
              </td>
              <td data-label="Success (24 h)" class="numeric">
                {stat === undefined ? (
                  <span class="muted">…</span>
                ) : stat === "error" ? (
                  <span class="muted">unavailable</span>
                ) : (
                  <span>
                    <strong>{percent(stat.success_rate)}</strong>
                    <span class="muted small"> of {stat.attempts}</span>
                  </span>
                )}
              </td>
              <td data-label="Activity (24 h)">
                {stat !== undefined && stat !== "error" ? <Sparkline stats={stat} /> : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/**
 * The activeflow destinations (PRODUCT §11), read-only: VoIPBIN keeps them from each activeflow's
 * `webhook_uri`. Shown only when there are some, under the subscriptions.
 */
function ActiveflowDestinations({ items, more }: { items: ActiveflowDestination[]; more: boolean }) {
  if (items.length === 0) return null;
  return (
    <section class="activeflow-destinations" aria-labelledby="activeflow-destinations-heading">
      <h2 id="activeflow-destinations-heading">Activeflow destinations</h2>
      <p class="muted small">
        An activeflow started with its own webhook URL also receives that activeflow's events, signed with
        your managed subscription's secret. VoIPBIN keeps these in step with the activeflow; they end with it.
      </p>
      <table class="table responsive">
        <caption class="visually-hidden">Your activeflow destinations</caption>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col">Activeflow</th>
            <th scope="col">Status</th>
            <th scope="col">Expires without news</th>
          </tr>
        </thead>
        <tbody>
          {items.map((destination) => (
            <tr key={destination.id}>
              <td data-label="Endpoint" class="cell-primary">
                <div class="endpoint">
                  <span class="method">{destination.method}</span> <span class="url">{destination.url}</span>
                </div>
              </td>
              <td data-label="Activeflow">
                <code>{destination.activeflow_id}</code>
              </td>
              <td data-label="Status">
                <ManagedBadge managedBy={destination.managed_by} />
              </td>
              <td data-label="Expires without news">
                <Time iso={destination.expires_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {more ? <p class="muted small">More activeflow destinations exist than are shown here.</p> : null}
    </section>
  );
}

export function SubscriptionList() {
  const { value, reload } = useLoad(allSubscriptions, []);
  const activeflows = useLoad(someActiveflowDestinations, []);
  return (
    <>
      <div class="page-header">
        <h1>Subscriptions</h1>
        <div class="actions">
          <button
            type="button"
            class="button"
            onClick={() => {
              reload();
              activeflows.reload();
            }}
          >
            Refresh
          </button>
          <a class="button button-primary" href={href.newSubscription()}>
            New subscription
          </a>
        </div>
      </div>
      <Show value={value} retry={reload}>
        {(subscriptions) => <Rows subscriptions={subscriptions} />}
      </Show>
      {/* Quiet while loading: most customers have none, and the subscriptions carry the spinner. */}
      {activeflows.value.state === "loading" ? null : (
        <Show value={activeflows.value} retry={activeflows.reload}>
          {(page) => <ActiveflowDestinations items={page.items} more={page.more} />}
        </Show>
      )}
    </>
  );
}
