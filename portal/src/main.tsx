/**
 * The customer portal (PRODUCT §9): sign in with an access key or a portal link, then manage
 * subscriptions and debug deliveries through the public /v1 API.
 */
import "./styles.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiFailure, api } from "./api.ts";
import { Loading, messageOf } from "./components.tsx";
import { href, navigate, type Route, useRoute } from "./router.ts";
import { DeliveryPage } from "./screens/delivery.tsx";
import { FindEvent } from "./screens/events.tsx";
import { SubscriptionPage } from "./screens/subscription.tsx";
import { SubscriptionForm } from "./screens/subscription-form.tsx";
import { SubscriptionList } from "./screens/subscriptions.tsx";
import { currentSession, endSession, onSessionChange, type Session, startSession } from "./session.ts";

function useSession(): [Session | null, string | null] {
  const [state, setState] = useState<[Session | null, string | null]>(() => [currentSession(), null]);
  useEffect(() => onSessionChange((session, notice) => setState([session, notice])), []);
  return state;
}

function SignIn({ notice }: { notice: string | null }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = key.trim();
    if (candidate === "") {
      setError("Enter your access key.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // A cheap authenticated call: it tells a good key from a bad one before anything is stored.
      await api.eventTypes(candidate);
      startSession({ key: candidate, expiresAt: null, customerId: null, via: "access key" });
    } catch (failure) {
      setError(
        failure instanceof ApiFailure && failure.status === 401
          ? "That access key is not valid, has expired or was revoked."
          : messageOf(failure),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <div class="card signin-card">
        <Brand />
        <h1>Sign in</h1>
        <p class="muted">Manage your webhook subscriptions and see every delivery.</p>
        {notice ? (
          <div class="alert alert-info" role="status">
            {notice}
          </div>
        ) : null}
        <form onSubmit={submit} noValidate>
          <div class="field">
            <label for="access-key">Access key</label>
            <input
              id="access-key"
              name="access-key"
              type="password"
              autocomplete="off"
              spellcheck={false}
              placeholder="vb_…"
              value={key}
              onInput={(event) => setKey((event.target as HTMLInputElement).value)}
              aria-invalid={error !== null}
              aria-describedby={error ? "access-key-error access-key-hint" : "access-key-hint"}
            />
            <p class="hint" id="access-key-hint">
              Your key stays in this browser tab only, and is forgotten when you close it.
            </p>
            {error ? (
              <p class="field-error" id="access-key-error" role="alert">
                {error}
              </p>
            ) : null}
          </div>
          <button type="submit" class="button button-primary button-block" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </div>
    </main>
  );
}

const LINK_ERRORS: Record<string, { title: string; text: string }> = {
  PORTAL_LINK_EXPIRED: {
    title: "This link has expired",
    text: "Portal links work for a short time only. Ask your operator for a new one.",
  },
  PORTAL_LINK_USED: {
    title: "This link has already been used",
    text: "A portal link signs in once. Ask your operator for a new one, or sign in with an access key.",
  },
  PORTAL_LINK_INVALID: {
    title: "This link is not valid",
    text: "It may have been copied incompletely or altered. Ask your operator for a new one.",
  },
};

/** `#link=<token>`: exchanged once for a session key, then the token is removed from the address bar and history. */
function LinkExchange({ token }: { token: string }) {
  const [failure, setFailure] = useState<unknown>(null);
  useEffect(() => {
    history.replaceState(null, "", `${location.pathname}${location.search}`);
    api.exchangePortalLink(token).then(
      (session) => {
        startSession({
          key: session.access_key,
          expiresAt: session.expires_at,
          customerId: session.customer_id,
          via: "portal link",
        });
        navigate(href.subscriptions(), { replace: true });
      },
      (error: unknown) => setFailure(error),
    );
  }, [token]);
  if (failure === null) return <Loading label="Signing you in…" />;
  const code = failure instanceof ApiFailure ? failure.code : "";
  const known = LINK_ERRORS[code];
  return (
    <main class="signin" id="main">
      <div class="card signin-card link-refused">
        <Brand />
        <h1>{known?.title ?? "The link could not be used"}</h1>
        <p>{known?.text ?? messageOf(failure)}</p>
        <a class="button button-primary" href="#/">
          Sign in with an access key
        </a>
      </div>
    </main>
  );
}

function Brand() {
  return (
    <p class="brand">
      <span class="brand-mark" aria-hidden="true">
        ⟿
      </span>{" "}
      VoIPBIN <span class="brand-sub">webhooks</span>
    </p>
  );
}

function SessionInfo({ session }: { session: Session }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(timer);
  }, []);
  if (session.expiresAt === null) return null;
  const minutes = Math.max(0, Math.round((Date.parse(session.expiresAt) - Date.now()) / 60_000));
  return <span class="session-info">Session ends in {minutes} min</span>;
}

function Shell({ session, route }: { session: Session; route: Route }) {
  const section = route.name === "events" ? "events" : "subscriptions";
  return (
    <>
      <button type="button" class="skip-link" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="topbar">
        <div class="topbar-inner">
          <a class="brand-link" href={href.subscriptions()}>
            <Brand />
          </a>
          <nav aria-label="Main">
            <a href={href.subscriptions()} aria-current={section === "subscriptions" ? "page" : undefined}>
              Subscriptions
            </a>
            <a href={href.events()} aria-current={section === "events" ? "page" : undefined}>
              Find an event
            </a>
          </nav>
          <div class="topbar-end">
            <SessionInfo session={session} />
            <button type="button" class="button button-small" onClick={() => endSession("You signed out.")}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" class="content" tabIndex={-1}>
        <Screen route={route} />
      </main>
    </>
  );
}

/** A button, not a `#main` link: the fragment is the router's. */
function skipToMain() {
  document.getElementById("main")?.focus();
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case "subscriptions":
      return <SubscriptionList />;
    case "new-subscription":
      return <SubscriptionForm id={null} />;
    case "edit-subscription":
      return <SubscriptionForm id={route.id} key={route.id} />;
    case "subscription":
      return <SubscriptionPage id={route.id} query={route.query} key={route.id} />;
    case "delivery":
      return <DeliveryPage id={route.id} key={route.id} />;
    case "events":
      return <FindEvent eventId={route.eventId} key={route.eventId ?? ""} />;
    default:
      return (
        <div>
          <h1>Page not found</h1>
          <p>
            <a href={href.subscriptions()}>Back to your subscriptions</a>
          </p>
        </div>
      );
  }
}

function App() {
  const route = useRoute();
  const [session, notice] = useSession();
  useEffect(() => {
    document.title = session === null ? "Sign in · VoIPBIN webhooks" : "VoIPBIN webhooks portal";
  }, [session]);
  if (route.name === "link") return <LinkExchange token={route.token} />;
  if (session === null) return <SignIn notice={notice} />;
  return <Shell session={session} route={route} />;
}

const root = document.getElementById("app");
if (root !== null) {
  root.textContent = "";
  render(<App />, root);
}
