import type { RouterDependencies } from "#shared/services/route-event.ts";

/**
 * The router's ports a routing test does not look at: payloads stored nowhere, no control events,
 * activeflows unknown, 30 days' retention. Spread under the ports the test does watch.
 */
export function idleRouterPorts(): Pick<
  RouterDependencies,
  "payloads" | "managed" | "activeflows" | "retentionDays"
> {
  return {
    payloads: { putPayload: async () => undefined },
    managed: {
      apply: async () => {
        throw new Error("no control events in this test");
      },
    },
    activeflows: {
      apply: async () => "applied",
      lookup: async () => "unknown",
      putInline: async () => undefined,
    },
    retentionDays: 30,
  };
}
