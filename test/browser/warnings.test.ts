/**
 * The failing banner (PRODUCT §12, docs/delivery.md "Warnings before loss") as a customer sees it:
 * Debian's Chromium against `npm start`, a real receiver that fails and then recovers.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleEntry } from "../../local/samples.ts";
import { launchPortalBrowser, type PortalBrowser, seriousViolations } from "../support/browser.ts";
import {
  callApi,
  eventBridgeClient,
  killAllStacks,
  mintKey,
  type RunningStack,
  startStack,
} from "../support/e2e-stack.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

const AUTO_DISABLE_AFTER_SECONDS = 3 * 86_400;
const SCREENSHOTS = process.env.PORTAL_SCREENSHOTS_DIR;

let stack: RunningStack;
let browser: PortalBrowser;
let receiver: Receiver;
let healthy = false;

beforeAll(async () => {
  // One retry an hour later: after the first failure the streak stays open for the whole test.
  stack = await startStack({
    inMemory: true,
    env: { RETRY_SCHEDULE: "3600", AUTO_DISABLE_AFTER_SECONDS: String(AUTO_DISABLE_AFTER_SECONDS) },
  });
  receiver = await startReceiver(() => ({ status: healthy ? 200 : 503 }));
  browser = await launchPortalBrowser();
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  if (stack) await stack.interrupt().catch(() => stack.kill());
  killAllStacks();
});

/** A fresh page signed in with `key`, on the portal screen at `fragment`. */
async function signedIn(key: string, fragment: string, width = 1280): Promise<Page> {
  const page = await browser.newPage({ width, height: 900 });
  await page.goto(`${stack.endpoints.api}/portal/`);
  await page.getByLabel("Access key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
  await page.goto(`${stack.endpoints.api}/portal/${fragment}`);
  return page;
}

describe("the failing banner and the delivery's time in a browser", () => {
  it("shows since when a subscription fails and when it would be disabled, where a failed delivery's time went, and no banner once it recovers", async () => {
    const { key, customerId } = await mintKey(stack);
    const created = await callApi<{ id: string }>(stack, "POST", "/v1/subscriptions", {
      key,
      body: { url: `${receiver.url}/crm`, event_types: ["call_hangup"] },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id;
    const bus = eventBridgeClient(stack);
    const put = async () => {
      const response = await bus.send(
        new PutEventsCommand({
          Entries: [{ ...sampleEntry("call_hangup", { customerId }), EventBusName: "voipbin-events" }],
        }),
      );
      expect(response.FailedEntryCount).toBe(0);
    };
    type View = { failing: { since: string; auto_disable_at: string } | null };
    const view = async () => (await callApi<View>(stack, "GET", `/v1/subscriptions/${id}`, { key })).body;

    try {
      await put();
      await waitFor(async () => (await view()).failing !== null, {
        timeoutMs: 20_000,
        description: "the subscription to be failing",
      });
      const failing = (await view()).failing;
      if (failing === null) throw new Error("not failing");
      expect(Date.parse(failing.auto_disable_at) - Date.parse(failing.since)).toBe(
        AUTO_DISABLE_AFTER_SECONDS * 1000,
      );

      for (const width of [1280, 375]) {
        const page = await signedIn(key, `#/subscriptions/${id}`, width);
        const banner = page.getByTestId("failing-banner");
        await banner.waitFor();
        expect(await banner.getByRole("heading").textContent()).toBe("This endpoint is failing");
        // Both instants, as the page's absolute times (UTC, en-GB): since, and auto-disable in 3 days.
        const text = (await banner.textContent()) ?? "";
        const times = await banner
          .locator("time")
          .evaluateAll((nodes) => nodes.map((node) => node.getAttribute("datetime")));
        expect(times).toEqual([failing.since, failing.auto_disable_at]);
        expect(text).toMatch(/disabled in [23] days/);
        expect(text).toContain("webhook_endpoint_failing");
        // The banner fits the phone's width: nothing scrolls sideways.
        expect(
          await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"),
        ).toBe(true);
        expect(await seriousViolations(page)).toEqual([]);
        if (SCREENSHOTS !== undefined && width === 1280) {
          mkdirSync(SCREENSHOTS, { recursive: true });
          await page.screenshot({ path: path.join(SCREENSHOTS, "subscription-failing.png") });
        }
        await page.close();
      }

      // The failed delivery's page says where its time went: routed, at the endpoint, then backing off.
      const log = await callApi<{ items: { id: string }[] }>(
        stack,
        "GET",
        `/v1/subscriptions/${id}/deliveries`,
        { key },
      );
      const deliveryId = log.body.items[0]?.id;
      expect(deliveryId).toBeDefined();
      {
        const page = await signedIn(key, `#/deliveries/${deliveryId}`, 375);
        const card = page.getByTestId("delivery-timing");
        await card.waitFor();
        expect(await card.getByRole("heading").textContent()).toBe("Where its time went");
        expect(await card.textContent()).toContain("from the event to now");
        const part = async (name: string) =>
          (await card.locator(`[data-part="${name}"] dd`).textContent()) ?? "";
        // Under a second as "850 ms", from a second as "1.02 s" (EventBridge's whole-second event times
        // alone can put up to a second into routing; a loaded machine can too).
        expect(await part("receiver_ms")).toMatch(/^\d+(\.\d+)? (ms|s)$/);
        expect(await part("backoff_ms")).toMatch(/^\d+(\.\d+)? (ms|s)$/);
        expect(await part("backoff_ms")).not.toBe("0 ms");
        expect(await part("routing_ms")).toMatch(/^\d+(\.\d+)? (ms|s)$/);
        expect(
          await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"),
        ).toBe(true);
        // The whole page at 375 px: this delivery's long body scrolls inside its code block, which
        // must take keyboard focus (axe's scrollable-region-focusable) as well as the card itself.
        expect(await seriousViolations(page)).toEqual([]);
        if (SCREENSHOTS !== undefined) {
          await page.screenshot({
            path: path.join(SCREENSHOTS, "delivery-timing-phone.png"),
            fullPage: true,
          });
        }
        await page.close();
      }

      // One success ends the streak: the banner goes.
      healthy = true;
      await put();
      await waitFor(async () => (await view()).failing === null, {
        timeoutMs: 20_000,
        description: "the streak to end",
      });
      const page = await signedIn(key, `#/subscriptions/${id}`);
      await page.getByRole("heading", { name: "Settings" }).waitFor();
      expect(await page.getByTestId("failing-banner").count()).toBe(0);
      expect(browser.problems).toEqual([]);
    } finally {
      bus.destroy();
    }
  });
});
