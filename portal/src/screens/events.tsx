/** Find an event by its id: which of the customer's subscriptions it reached, and how each went. */
import { useState } from "preact/hooks";
import { allSubscriptions, api } from "../api.ts";
import { Show, useLoad } from "../components.tsx";
import { href, navigate } from "../router.ts";
import { DeliveryTable } from "./delivery-table.tsx";

function Results({ eventId }: { eventId: string }) {
  const { value, reload } = useLoad(async () => {
    const [deliveries, subscriptions] = await Promise.all([
      api.eventDeliveries(eventId).then((page) => page.items),
      allSubscriptions(),
    ]);
    return { deliveries, urls: new Map(subscriptions.map((s) => [s.id, `${s.method} ${s.url}`])) };
  }, [eventId]);
  return (
    <Show value={value} retry={reload}>
      {({ deliveries, urls }) =>
        deliveries.length === 0 ? (
          <div class="card">
            <p>
              <strong>No delivery of this event to your subscriptions.</strong>
            </p>
            <p class="muted">
              It matched none of them, it is older than the delivery log keeps, or the id is mistyped.
            </p>
          </div>
        ) : (
          <section class="card" aria-labelledby="results-heading">
            <h2 id="results-heading">
              Reached {deliveries.length} {deliveries.length === 1 ? "subscription" : "subscriptions"}
            </h2>
            <DeliveryTable
              deliveries={deliveries}
              caption="Deliveries of this event"
              lead={{
                heading: "Subscription",
                cell: (delivery) => (
                  <a class="url" href={href.subscription(delivery.subscription_id)}>
                    {urls.get(delivery.subscription_id) ?? delivery.subscription_id}
                  </a>
                ),
              }}
            />
          </section>
        )
      }
    </Show>
  );
}

export function FindEvent({ eventId }: { eventId: string | null }) {
  const [input, setInput] = useState(eventId ?? "");
  const submit = (event: Event) => {
    event.preventDefault();
    const id = input.trim();
    if (id !== "") navigate(href.events(id));
  };
  return (
    <>
      <h1>Find an event</h1>
      <form class="card search-form" onSubmit={submit}>
        <div class="field">
          <label for="event-id">Event ID</label>
          <input
            id="event-id"
            value={input}
            spellcheck={false}
            placeholder="e.g. 0d9b2c1e-7f3a-4b2c-9e1d-4f5a6b7c8d9e"
            onInput={(e) => setInput((e.target as HTMLInputElement).value)}
          />
          <p class="hint">The id of the event, as in each delivery's details.</p>
        </div>
        <button type="submit" class="button button-primary">
          Find
        </button>
      </form>
      {eventId !== null ? <Results eventId={eventId} /> : null}
    </>
  );
}
