/** Deliveries as a table: the delivery log of a subscription, and the deliveries of one event. */
import type { ComponentChildren } from "preact";
import type { Delivery } from "../api.ts";
import { StatusBadge, Time } from "../components.tsx";
import { href } from "../router.ts";

/** The last attempt's status code, or its error; a dash before the first attempt. */
function lastResponse(delivery: Delivery): ComponentChildren {
  const last = delivery.attempts.at(-1);
  if (last === undefined) return <span class="muted">not yet</span>;
  return (
    <>
      <span class="code-cell">{last.status_code === null ? (last.error ?? "error") : last.status_code}</span>{" "}
      <span class="muted small">
        <Time iso={last.at} />
      </span>
    </>
  );
}

export function DeliveryTable({
  deliveries,
  caption,
  lead,
}: {
  deliveries: readonly Delivery[];
  caption: string;
  /** The first column: its heading and its cell for each delivery. */
  lead: { heading: string; cell: (delivery: Delivery) => ComponentChildren };
}) {
  return (
    <table class="table responsive">
      <caption class="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{lead.heading}</th>
          <th scope="col">Event type</th>
          <th scope="col">Status</th>
          <th scope="col" class="numeric">
            Attempts
          </th>
          <th scope="col">Last response</th>
          <th scope="col">
            <span class="visually-hidden">Open</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {deliveries.map((delivery) => (
          <tr key={delivery.id}>
            <td data-label={lead.heading}>{lead.cell(delivery)}</td>
            <td data-label="Event type">
              <code>{delivery.event_type}</code>
            </td>
            <td data-label="Status">
              <StatusBadge status={delivery.status} />
            </td>
            <td data-label="Attempts" class="numeric">
              {delivery.attempts.length}
            </td>
            <td data-label="Last response">{lastResponse(delivery)}</td>
            <td data-label="">
              <a href={href.delivery(delivery.id)}>
                Details<span class="visually-hidden"> of the {delivery.event_type} delivery</span>
              </a>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
