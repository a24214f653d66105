/**
 * "Why was it late?" (docs/delivery.md): where a delivery's time went, from the API's `timing`.
 * A stacked bar for the eye (hidden from assistive technology) and the same numbers as a list.
 */
import type { DeliveryTiming } from "../api.ts";
import { milliseconds } from "../format.ts";

const PARTS = [
  { key: "routing_ms", label: "Waiting to be routed", tone: "routing" },
  { key: "queued_ms", label: "Queued", tone: "queued" },
  { key: "fairness_ms", label: "Held by fairness (breaker, cap, slow lane)", tone: "fairness" },
  { key: "backoff_ms", label: "Backing off between attempts", tone: "backoff" },
  { key: "receiver_ms", label: "At your endpoint", tone: "receiver" },
  { key: "idle_ms", label: "Over, until retried or recovered", tone: "idle" },
] as const;

/** "850 ms", "4.21 s", "3 min 5 s", "2 h 10 min", "1 d 4 h". */
export function duration(ms: number): string {
  if (ms < 60_000) return milliseconds(ms);
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export function DeliveryTimingCard({ timing, over }: { timing: DeliveryTiming; over: boolean }) {
  const parts = PARTS.map((part) => ({ ...part, ms: timing[part.key] ?? 0 })).filter((part) => part.ms > 0);
  const total = Math.max(1, timing.age_ms);
  return (
    <section class="card timing" aria-labelledby="timing-heading" data-testid="delivery-timing">
      <h2 id="timing-heading">Where its time went</h2>
      <p class="muted">
        {duration(timing.age_ms)} from the event to {over ? "its last answer" : "now"}
        {timing.routing_ms === null ? " (the routing time was not recorded: it is counted as queued)" : ""}.
      </p>
      <div class="timing-bar" aria-hidden="true">
        {parts.map((part) => (
          <span
            key={part.key}
            class={`timing-${part.tone}`}
            style={{ width: `${(100 * part.ms) / total}%` }}
            title={`${part.label}: ${duration(part.ms)}`}
          />
        ))}
      </div>
      <dl class="timing-parts">
        {PARTS.map((part) => {
          const ms = timing[part.key];
          return (
            <div key={part.key} data-part={part.key}>
              <dt>
                <span class={`timing-swatch timing-${part.tone}`} aria-hidden="true" />
                {part.label}
              </dt>
              <dd>{ms === null ? <span class="muted">not recorded</span> : duration(ms)}</dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}
