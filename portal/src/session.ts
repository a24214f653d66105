/**
 * The signed-in customer's key, kept in sessionStorage only: it survives a reload of this tab, is
 * gone when the tab closes, is never shared with other tabs or origins, and never goes into a URL
 * or a cookie.
 */
const STORAGE_KEY = "voipbin-portal.session";

export interface Session {
  readonly key: string;
  /** When the key stops working, if known (portal links' session keys expire after an hour). */
  readonly expiresAt: string | null;
  readonly customerId: string | null;
  readonly via: "access key" | "portal link";
}

type Listener = (session: Session | null, notice: string | null) => void;
const listeners = new Set<Listener>();
let memory: Session | null = null;

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function currentSession(): Session | null {
  if (memory !== null) return memory;
  const raw = storage()?.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Session;
    if (typeof parsed.key !== "string") return null;
    memory = parsed;
    return memory;
  } catch {
    return null;
  }
}

export function startSession(session: Session): void {
  memory = session;
  storage()?.setItem(STORAGE_KEY, JSON.stringify(session));
  for (const listener of listeners) listener(session, null);
}

export function endSession(notice: string | null = null): void {
  memory = null;
  storage()?.removeItem(STORAGE_KEY);
  for (const listener of listeners) listener(null, notice);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
