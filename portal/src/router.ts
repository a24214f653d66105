/**
 * Screens are addressed by the URL fragment (`#/subscriptions/<id>`), so every screen can be
 * bookmarked and reloaded while the server only ever serves index.html. A portal link's token also
 * arrives in the fragment (`#link=…`); the fragment is never sent to a server.
 */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { readonly name: "subscriptions" }
  | { readonly name: "new-subscription" }
  | { readonly name: "subscription"; readonly id: string; readonly query: URLSearchParams }
  | { readonly name: "edit-subscription"; readonly id: string }
  | { readonly name: "delivery"; readonly id: string }
  | { readonly name: "events"; readonly eventId: string | null }
  | { readonly name: "link"; readonly token: string }
  | { readonly name: "not-found" };

export function parseRoute(hash: string): Route {
  const fragment = hash.replace(/^#/, "");
  if (fragment.startsWith("link=")) return { name: "link", token: fragment.slice("link=".length) };
  const [pathPart = "", queryPart = ""] = fragment.split("?", 2);
  const parts = pathPart
    .split("/")
    .filter((part) => part !== "")
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  const [first, second, third] = parts;
  if (first === undefined) return { name: "subscriptions" };
  if (first === "subscriptions") {
    if (second === undefined) return { name: "subscriptions" };
    if (second === "new" && third === undefined) return { name: "new-subscription" };
    if (third === undefined)
      return { name: "subscription", id: second, query: new URLSearchParams(queryPart) };
    if (third === "edit") return { name: "edit-subscription", id: second };
  }
  if (first === "deliveries" && second !== undefined && third === undefined) {
    return { name: "delivery", id: second };
  }
  if (first === "events" && third === undefined) return { name: "events", eventId: second ?? null };
  return { name: "not-found" };
}

export const href = {
  subscriptions: () => "#/subscriptions",
  newSubscription: () => "#/subscriptions/new",
  subscription: (id: string, query?: Record<string, string>) => {
    const search = query === undefined ? "" : new URLSearchParams(query).toString();
    return `#/subscriptions/${encodeURIComponent(id)}${search === "" ? "" : `?${search}`}`;
  },
  editSubscription: (id: string) => `#/subscriptions/${encodeURIComponent(id)}/edit`,
  delivery: (id: string) => `#/deliveries/${encodeURIComponent(id)}`,
  events: (eventId?: string) =>
    eventId === undefined ? "#/events" : `#/events/${encodeURIComponent(eventId)}`,
};

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) {
    history.replaceState(null, "", to);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = to;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}
