/**
 * What the OpenAPI document says of each route (shared/api/routes.ts), by operation id: apart from the
 * route table so that the API function, which dispatches with the table, does not bundle the prose
 * only the document generator (shared/api/openapi.ts, run at synth and by `npm run openapi`) reads.
 */

export interface RouteDoc {
  readonly summary: string;
  readonly description: string;
  /** The success response's description. */
  readonly success: string;
  /** When the route may answer 409: what that means there. */
  readonly conflict?: string;
  /** On a public route that may answer 401: what that means there. */
  readonly unauthorized?: string;
}

export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  listEventTypes: {
    summary: "List the event types",
    description:
      "The catalogue: every event type a subscription can select, with its resource, the JSON Schema of its `data` and an example. `<resource>_*` selects every type of a resource, `*` every type.",
    success: "The catalogue.",
  },
  getEventType: {
    summary: "Get an event type",
    description:
      "One type of the catalogue with its description, the JSON Schema of its `data` and an example (null for a type operators added at run time).",
    success: "The event type.",
  },
  createSubscription: {
    summary: "Create a subscription",
    description:
      "Validates the URL (scheme, length, no user-info, and every address its host resolves to against the blocked ranges), the event types against the catalogue and the custom headers, then stores the subscription with a new secret. The secret is in this response.",
    success: "Created; the response carries the secret.",
    conflict: "`SUBSCRIPTION_LIMIT_REACHED`: the customer already has the maximum number of subscriptions.",
  },
  listSubscriptions: {
    summary: "List subscriptions",
    description:
      "The caller's subscriptions, oldest first, paginated, including a managed one (`managed: true`, `delivery_profile: legacy`) when VoIPBIN keeps the customer's webhook here.",
    success: "One page.",
  },
  listActiveflowDestinations: {
    summary: "List activeflow destinations",
    description:
      "The caller's live activeflow destinations (an activeflow created with its own `webhook_uri`), by activeflow id, paginated. Read-only: VoIPBIN's flow-manager creates, changes and removes them; none carries a secret (they sign with the managed legacy subscription's). A page may hold fewer than `limit` items and still have a `next_cursor`.",
    success: "One page.",
  },
  getSubscription: {
    summary: "Get a subscription",
    description: "One subscription, without its secret.",
    success: "The subscription.",
  },
  updateSubscription: {
    summary: "Change a subscription",
    description:
      "Changes the fields present, validated as on create (a new URL is checked against the blocked ranges again). `status: disabled` stops deliveries (`disabled_reason: manual`); `status: enabled` re-enables and restarts the failing clock.",
    success: "The changed subscription.",
    conflict:
      "`MANAGED_SUBSCRIPTION`: the subscription is managed (`managed: true`, kept in step with the customer's VoIPBIN webhook settings) and read-only here.",
  },
  deleteSubscription: {
    summary: "Delete a subscription",
    description:
      "Deletes it at once. Jobs already queued for it are dropped, not delivered. Its delivery records stay readable through `GET /v1/deliveries/{id}` until they expire.",
    success: "Deleted.",
    conflict: "`MANAGED_SUBSCRIPTION`: a managed subscription is removed by VoIPBIN, not here.",
  },
  getSubscriptionSecret: {
    summary: "Get the signing secret",
    description: "The current secret (not the previous one still signing after a rotation).",
    success: "The secret.",
  },
  rotateSubscriptionSecret: {
    summary: "Rotate the signing secret",
    description:
      "Generates a new secret. For the overlap (24 h by default) every delivery carries two `v1,` signatures, one per secret, so receivers can switch without losing deliveries; then only the new secret signs. Rotating again during the overlap ends the older secret's overlap at once.",
    success: "The new secret.",
    conflict:
      "`CONCURRENT_MODIFICATION`: rotations raced; try again. `MANAGED_SUBSCRIPTION`: a managed subscription signs with the customer's VoIPBIN secret, changed in VoIPBIN.",
  },
  sendTestEvent: {
    summary: "Send a test event",
    description:
      'Sends a `webhook_test` event (`data`: `{"subscription_id", "message", "created_at"}`) to this subscription only, through the real queue and delivery function: signed, retried and logged like any delivery. With `{"event_type": "<type>"}` it sends that catalogue type\'s `example` in VoIPBIN\'s envelope instead (a type the subscription selects; otherwise 400 at `event_type`). Every attempt of a test delivery carries the header `x-voipbin-test: true`.',
    success: "Queued.",
    conflict: "`SUBSCRIPTION_DISABLED`: enable the subscription first.",
  },
  listDeliveries: {
    summary: "List a subscription's deliveries",
    description:
      "The delivery log, newest first, optionally of one status. A page may hold fewer than `limit` items while `next_cursor` is set (filtered pages, very large attempts); follow `next_cursor` until it is null. New deliveries appear within about a second.",
    success: "One page.",
  },
  recoverDeliveries: {
    summary: "Re-send failed deliveries",
    description:
      "Re-sends every `failed` or `dead` delivery of the subscription created at or after `since`, oldest first, each once even if recoveries overlap. Large recoveries stop at the request's time budget with `complete: false`; call again with `since` = `next_since` to continue.",
    success: "Queued.",
    conflict: "`SUBSCRIPTION_DISABLED`: enable the subscription first.",
  },
  getDelivery: {
    summary: "Get a delivery",
    description: "One delivery with all its attempts.",
    success: "The delivery.",
  },
  retryDelivery: {
    summary: "Send a delivery again",
    description:
      "Sends it again now, whatever its status (also `succeeded` or `dead`), with the same body and `webhook-id`, and a fresh retry schedule.",
    success: "Queued.",
    conflict:
      "`SUBSCRIPTION_DISABLED` (enable it first), `SUBSCRIPTION_DELETED`, or `DELIVERY_NOT_RETRYABLE` (a record without its payload).",
  },
  getSubscriptionStats: {
    summary: "A subscription's delivery statistics",
    description:
      "Counts the attempts sent in the last 24 hours (or 7 days): how many, how many succeeded (2xx) and failed, the success rate, latency percentiles and one bucket per hour. Counted from the delivery log, so attempts of deliveries that have expired from it are not counted.",
    success: "The statistics.",
  },
  listEventDeliveries: {
    summary: "Where an event went",
    description:
      "The deliveries of one event to the caller's subscriptions, each with all its attempts: which subscriptions it reached and how each delivery went. An event of another customer, or one that matched none of the caller's subscriptions, answers an empty list. Deliveries to subscriptions deleted since are not listed.",
    success: "Its deliveries.",
  },
  createPortalSession: {
    summary: "Exchange a portal link for a session",
    description:
      "Exchanges the token of an operator-minted portal link (`npm run keys -- portal-link`) for an access key of that customer that expires an hour later. A link works once and only until it expires. No authentication: the token is the credential.",
    success: "The session's access key.",
    unauthorized:
      "`PORTAL_LINK_INVALID` (not a link this system minted, or altered), `PORTAL_LINK_EXPIRED` or `PORTAL_LINK_USED`.",
  },
  getOpenApiDocument: {
    summary: "This API's OpenAPI 3.1 document",
    description: "Generated from the schemas the API validates with. No authentication.",
    success: "The document.",
  },
};
