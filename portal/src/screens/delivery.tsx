/**
 * One delivery: the request that was sent, every attempt with the endpoint's answer (as text), when
 * the next one is due, and a Retry button that sends it again now.
 */
import { useEffect, useState } from "preact/hooks";
import { type Attempt, api, type Delivery, type Subscription } from "../api.ts";
import {
  CodeBlock,
  CopyButton,
  ErrorMessage,
  Id,
  Notice,
  Show,
  StatusBadge,
  Time,
  useLoad,
} from "../components.tsx";
import { milliseconds, prettyBody } from "../format.ts";
import { href } from "../router.ts";
import { DeliveryTimingCard } from "./delivery-timing.tsx";

function outcome(attempt: Attempt): { text: string; ok: boolean } {
  if (attempt.status_code !== null) {
    return {
      text: `HTTP ${attempt.status_code}`,
      ok: attempt.status_code >= 200 && attempt.status_code < 300,
    };
  }
  return { text: attempt.error ?? "no response", ok: false };
}

function Headers({ headers }: { headers: Record<string, string> }) {
  const entries = Object.entries(headers);
  if (entries.length === 0) return <p class="muted">No headers recorded.</p>;
  return (
    <table class="table headers-table">
      <caption class="visually-hidden">Request headers</caption>
      <thead>
        <tr>
          <th scope="col">Header</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([name, value]) => (
          <tr key={name}>
            <td>
              <code>{name}</code>
            </td>
            <td class="break">
              <code>{value}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RequestSent({ delivery, subscription }: { delivery: Delivery; subscription: Subscription | null }) {
  const request = [...delivery.attempts].reverse().find((attempt) => attempt.request)?.request ?? null;
  return (
    <section class="card" aria-labelledby="request-heading">
      <h2 id="request-heading">Request sent</h2>
      {request ? (
        <>
          <p class="request-line">
            <span class="method">{request.method ?? "POST"}</span> <code class="break">{request.url}</code>
          </p>
          <h3>Headers</h3>
          <Headers headers={request.headers ?? {}} />
        </>
      ) : subscription !== null && delivery.attempts.length > 0 ? (
        <>
          <p class="muted">
            The attempts of this delivery did not record their request line and headers; this is the
            subscription as it is configured now.
          </p>
          <p class="request-line">
            <span class="method">{subscription.method}</span> <code class="break">{subscription.url}</code>
          </p>
          <h3>Custom headers</h3>
          <Headers headers={subscription.headers} />
        </>
      ) : (
        <p class="muted">
          {delivery.attempts.length === 0
            ? "Not sent yet."
            : "The request line and headers were not recorded for this delivery."}
        </p>
      )}
      <h3>Body</h3>
      {delivery.body ? <Body body={delivery.body} /> : <p class="muted">Not available.</p>}
    </section>
  );
}

/** SHA-256 of the body's UTF-8 bytes, in hex (null where the page has no Web Crypto, e.g. plain http off loopback). */
function useSha256(text: string): string | null {
  const [digest, setDigest] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    if (globalThis.crypto?.subtle === undefined) return;
    void crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then((hash) => {
      if (cancelled) return;
      setDigest([...new Uint8Array(hash)].map((byte) => byte.toString(16).padStart(2, "0")).join(""));
    });
    return () => {
      cancelled = true;
    };
  }, [text]);
  return digest;
}

/**
 * The body exactly as it was signed and sent (the signature covers these bytes: a receiver that
 * re-serialises its parsed JSON computes another signature), and beside it, labelled as such, an
 * indented view for reading.
 */
function Body({ body }: { body: string }) {
  const digest = useSha256(body);
  const bytes = new TextEncoder().encode(body).length;
  const pretty = prettyBody(body);
  return (
    <div class="body-views">
      <figure class="body-view">
        <figcaption>
          <strong>Exact body, as signed and sent</strong>{" "}
          <span class="muted small">
            {bytes.toLocaleString("en-GB")} bytes, UTF-8
            {digest !== null ? (
              <>
                {" "}
                · SHA-256{" "}
                <code class="break" data-testid="request-body-sha256">
                  {digest}
                </code>
              </>
            ) : null}
          </span>{" "}
          <CopyButton value={body} label="exact body" />
        </figcaption>
        <CodeBlock class="code-block exact-body" testId="request-body" label="Exact body">
          {body}
        </CodeBlock>
      </figure>
      {pretty !== body ? (
        <figure class="body-view">
          <figcaption>
            <strong>Pretty-printed</strong>{" "}
            <span class="muted small">for reading only: not the bytes that were signed</span>
          </figcaption>
          <CodeBlock testId="request-body-pretty" label="Pretty-printed body">
            {pretty}
          </CodeBlock>
        </figure>
      ) : null}
    </div>
  );
}

function Attempts({ delivery }: { delivery: Delivery }) {
  if (delivery.attempts.length === 0) return <p class="muted">No attempt yet: it is queued.</p>;
  return (
    <ol class="attempts" reversed>
      {[...delivery.attempts].reverse().map((attempt, index) => {
        const number = delivery.attempts.length - index;
        const result = outcome(attempt);
        return (
          <li class="attempt card" key={`${attempt.at}-${number}`} aria-label={`Attempt ${number}`}>
            <div class="attempt-header">
              <h3>Attempt {number}</h3>
              <span class={result.ok ? "badge badge-succeeded" : "badge badge-failed"}>{result.text}</span>
              <span class="muted small">{milliseconds(attempt.latency_ms)}</span>
              <Time iso={attempt.at} both ms />
            </div>
            {attempt.error !== null && attempt.status_code !== null ? (
              <p class="muted">{attempt.error}</p>
            ) : null}
            <h4>Response body</h4>
            {attempt.response_body === null || attempt.response_body === "" ? (
              <p class="muted">Empty.</p>
            ) : (
              <CodeBlock class="code-block response-body" label={`Response body of attempt ${number}`}>
                {attempt.response_body}
              </CodeBlock>
            )}
            {attempt.request ? (
              <details>
                <summary>Request of this attempt</summary>
                <p class="request-line">
                  <span class="method">{attempt.request.method}</span>{" "}
                  <code class="break">{attempt.request.url}</code>
                </p>
                <Headers headers={attempt.request.headers ?? {}} />
              </details>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

export function DeliveryPage({ id }: { id: string }) {
  const { value, reload } = useLoad(async () => {
    const delivery = await api.getDelivery(id);
    // Its subscription, for the request when the attempts did not record it (null once deleted).
    const subscription = delivery.attempts.some((attempt) => attempt.request)
      ? null
      : await api.getSubscription(delivery.subscription_id).catch(() => null);
    return { delivery, subscription };
  }, [id]);
  const [retry, setRetry] = useState<{
    busy: boolean;
    notice: string | null;
    error: unknown;
    waitFor: number | null;
  }>({
    busy: false,
    notice: null,
    error: null,
    waitFor: null,
  });
  // After a retry, look again every second until the new attempt shows (or 30 s pass).
  useEffect(() => {
    if (retry.waitFor === null) return;
    if (value.state === "ready" && value.data.delivery.attempts.length >= retry.waitFor) {
      setRetry((current) => ({
        ...current,
        waitFor: null,
        notice: "Sent again: see the newest attempt below.",
      }));
      return;
    }
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started > 30_000) {
        clearInterval(timer);
        setRetry((current) => ({
          ...current,
          waitFor: null,
          notice: "Queued; the new attempt has not shown yet. Refresh in a moment.",
        }));
        return;
      }
      reload();
    }, 1000);
    return () => clearInterval(timer);
  }, [retry.waitFor, value]);

  const sendAgain = async (delivery: Delivery) => {
    setRetry({ busy: true, notice: null, error: null, waitFor: null });
    try {
      await api.retryDelivery(delivery.id);
      setRetry({
        busy: false,
        notice: "Queued to be sent again…",
        error: null,
        waitFor: delivery.attempts.length + 1,
      });
    } catch (error) {
      setRetry({ busy: false, notice: null, error, waitFor: null });
    }
  };

  return (
    <Show value={value} retry={reload}>
      {({ delivery, subscription }) => (
        <>
          <nav class="breadcrumbs" aria-label="Breadcrumbs">
            <a href={href.subscriptions()}>Subscriptions</a> /{" "}
            <a href={href.subscription(delivery.subscription_id)}>Subscription</a> / Delivery
          </nav>
          <div class="page-header">
            <div>
              <h1>
                <code>{delivery.event_type}</code>
              </h1>
              <StatusBadge status={delivery.status} />
            </div>
            <div class="actions">
              <button type="button" class="button" onClick={reload}>
                Refresh
              </button>
              <button
                type="button"
                class="button button-primary"
                onClick={() => sendAgain(delivery)}
                disabled={retry.busy}
              >
                {retry.busy ? "Retrying…" : "Retry"}
              </button>
            </div>
          </div>
          {retry.notice ? <Notice tone="info">{retry.notice}</Notice> : null}
          {retry.error ? <ErrorMessage error={retry.error} /> : null}
          <section class="card" aria-labelledby="delivery-heading">
            <h2 id="delivery-heading" class="visually-hidden">
              Delivery
            </h2>
            <dl class="properties">
              <dt>Delivery ID</dt>
              <dd>
                <Id value={delivery.id} label="delivery ID" />
              </dd>
              <dt>Event ID</dt>
              <dd>
                <Id value={delivery.event_id} label="event ID" />{" "}
                <a href={href.events(delivery.event_id)}>Where else did it go?</a>
              </dd>
              <dt>webhook-id</dt>
              <dd>
                <Id value={delivery.webhook_id} label="webhook-id" />
              </dd>
              <dt>Attempts</dt>
              <dd>{delivery.attempts.length}</dd>
              <dt>Next attempt</dt>
              <dd>
                {delivery.next_attempt_at ? (
                  <Time iso={delivery.next_attempt_at} both ms />
                ) : (
                  <span class="muted">none scheduled</span>
                )}
              </dd>
              <dt>Created</dt>
              <dd>
                <Time iso={delivery.created_at} both ms />
              </dd>
              <dt>Updated</dt>
              <dd>
                <Time iso={delivery.updated_at} both ms />
              </dd>
            </dl>
          </section>
          <DeliveryTimingCard
            timing={delivery.timing}
            over={delivery.status === "succeeded" || delivery.status === "dead"}
          />
          <RequestSent delivery={delivery} subscription={subscription} />
          <section aria-labelledby="attempts-heading">
            <h2 id="attempts-heading">Attempts, newest first</h2>
            <Attempts delivery={delivery} />
          </section>
        </>
      )}
    </Show>
  );
}
