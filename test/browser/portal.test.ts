/**
 * The customer portal as a customer uses it (PRODUCT §9): Debian's Chromium against `npm start`,
 * a real receiver on loopback, the operator CLIs in a second "terminal". Nothing is mocked: the page
 * calls the public /v1 API of the running stack.
 *
 * With PORTAL_SCREENSHOTS_DIR set (`npm run portal:screenshots`), the main screens are saved there as
 * PNGs for docs/portal.md.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchPortalBrowser, type PortalBrowser, seriousViolations } from "../support/browser.ts";
import {
  callApi,
  eventBridgeClient,
  killAllStacks,
  mintKey,
  type RunningStack,
  runNpmScript,
  startStack,
} from "../support/e2e-stack.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { waitFor } from "../support/wait.ts";

const XSS = "<img src=x onerror=alert(1)>";
const SCREENSHOTS = process.env.PORTAL_SCREENSHOTS_DIR;

let stack: RunningStack;
let browser: PortalBrowser;
let receiver: Receiver;
let key: string;
const customerId = randomUUID();
/** Filled in by the first test; later tests build on what it created. */
const created: { subscriptionId?: string; deliveryId?: string } = {};

beforeAll(async () => {
  // One attempt an hour after the first: the only second attempt the tests see is the manual retry.
  stack = await startStack({ inMemory: true, env: { RETRY_SCHEDULE: "3600" } });
  // The endpoint's first answer is an error whose body is markup; every later one succeeds.
  receiver = await startReceiver((_request, n) =>
    n === 1
      ? { status: 500, headers: { "content-type": "text/html" }, body: XSS }
      : { status: 200, body: "ok" },
  );
  const minted = await runNpmScript("keys", ["create", "--customer", customerId], stack.cliEnv);
  expect(minted.code, minted.stderr).toBe(0);
  key = minted.stdout.trim();
  browser = await launchPortalBrowser();
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  if (stack) await stack.interrupt().catch(() => stack.kill());
  killAllStacks();
});

const portalUrl = (fragment = "") => `${stack.endpoints.api}/portal/${fragment}`;

async function screenshot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS === undefined) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  // From the top, so that the sticky header is where it belongs in a full-page picture.
  await page.evaluate("window.scrollTo(0, 0)");
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page: Page): Promise<void> {
  await page.goto(portalUrl());
  await page.getByLabel("Access key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
}

/** Clicks `refresh` until `target` shows (the log is an index, eventually consistent). */
async function refreshUntilVisible(refresh: () => Promise<void>, target: () => Promise<boolean>) {
  await waitFor(
    async () => {
      if (await target()) return true;
      await refresh();
      return false;
    },
    { timeoutMs: 20_000, intervalMs: 500, description: "the portal to show the expected row" },
  );
}

/**
 * Pairs of text boxes of one table row that overlap (each element holding text of its own, by its
 * client rects, so a wrapped line counts where it is drawn). Empty when nothing is drawn over anything.
 */
async function overlappingText(page: Page): Promise<string[]> {
  return (await page.evaluate(`(() => {
    const found = [];
    for (const row of document.querySelectorAll("tbody tr")) {
      const boxes = [];
      for (const el of row.querySelectorAll("*")) {
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== "");
        if (!own) continue;
        for (const r of el.getClientRects()) if (r.width > 0 && r.height > 0) boxes.push({ el, r });
      }
      for (let i = 0; i < boxes.length; i++)
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i], b = boxes[j];
          if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
          const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
          const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
          if (w > 1 && h > 1) found.push(a.el.textContent.trim().slice(0, 30) + " / " + b.el.textContent.trim().slice(0, 30));
        }
    }
    return found;
  })()`)) as string[];
}

describe("the customer portal in a browser", () => {
  it("signs in by keyboard, creates a subscription, shows its delivery, and retries it into a second attempt", async () => {
    const page = await browser.newPage();
    await page.goto(portalUrl());
    await screenshot(page, "sign-in");
    // Keyboard only: Tab to the key, type it, Enter submits.
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.id")).toBe("access-key");
    await page.keyboard.type(key);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    // The key is in this tab's sessionStorage, never in the URL.
    expect(page.url()).not.toContain(key);
    expect(await page.evaluate("JSON.stringify(sessionStorage)")).toContain(key);

    await page.getByRole("link", { name: "New subscription" }).click();
    await page.getByRole("heading", { name: "New subscription" }).waitFor();
    // The API's validation errors, every one, next to its field; focus on the first.
    await page.getByLabel("Endpoint URL").fill("not a url");
    await page.getByLabel("Activeflow filter (optional)").fill("not-a-uuid");
    // A payload filter with two problems: the API lists both, beside the other fields' problems.
    await page
      .getByLabel("Payload filter (optional)")
      .fill('{"duration": {"$gt": true}, "status": {"$like": "hang"}}');
    await page.getByRole("button", { name: "Create subscription" }).click();
    for (const field of ["url", "event_types", "activeflow_id", "filter"]) {
      await page.locator(`#${field}-error`).waitFor();
      expect(await page.locator(`#${field}-error`).textContent(), field).not.toBe("");
    }
    const filterErrors = await page.locator("#filter-error li").allTextContents();
    expect(filterErrors).toEqual([
      expect.stringMatching(/^filter\.duration\.\$gt must be a number or a string/),
      expect.stringMatching(/^filter\.status\.\$like unknown operator/),
    ]);
    expect(await page.getByLabel("Payload filter (optional)").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid")).toBe("true");
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("url");
    // Chrome logs the refused request (400); that one was asked for.
    expect(browser.problems).toEqual([expect.stringContaining("status of 400")]);
    browser.problems.splice(0);
    await screenshot(page, "validation-errors");

    await page.getByLabel("Endpoint URL").fill(`${receiver.url}/hook`);
    await page.getByLabel("Activeflow filter (optional)").fill("");
    await page.getByLabel("Filter event types").fill("hangup");
    await page.getByRole("checkbox", { name: /^call_hangup\b/ }).check();
    // The type's example and schema (PRODUCT §12), drawn when opened.
    await page.getByText("Example and schema of call_hangup").click();
    const example = JSON.parse((await page.getByLabel("Example of call_hangup").textContent()) ?? "null");
    expect(example).toMatchObject({ status: "hangup", hangup_reason: "normal" });
    const schema = JSON.parse((await page.getByLabel("Schema of call_hangup").textContent()) ?? "null");
    expect(schema).toMatchObject({ type: "object", required: expect.arrayContaining(["id", "customer_id"]) });
    // The filter tried against the catalogue's example, in the page (the router's own code, bundled).
    const filter = page.getByLabel("Payload filter (optional)");
    const tryIt = page.getByRole("button", { name: "Test against the example" });
    const outcome = page.getByTestId("filter-result");
    expect(await page.getByLabel("Example to test against").inputValue()).toBe("call_hangup");
    await filter.fill('{"status": ');
    await tryIt.click();
    await expect.poll(() => outcome.textContent()).toContain("filter: is not valid JSON");
    await filter.fill('{"status": "hangup", "duration": {"$gt": true}, "x": {"$in": []}}');
    await tryIt.click();
    await expect.poll(() => outcome.textContent()).toContain("The filter is not valid (2 problems)");
    await filter.fill('{"hangup_reason": "busy"}');
    await tryIt.click();
    await expect
      .poll(() => outcome.textContent())
      .toContain("Does not match: the example call_hangup would not be delivered");
    const matching = { status: "hangup", hangup_reason: { $in: ["normal", "busy"] } };
    await filter.fill(JSON.stringify(matching, null, 2));
    await tryIt.click();
    await expect
      .poll(() => outcome.textContent())
      .toContain("Matches: the example call_hangup would be delivered");
    await page.getByLabel("Description (optional)").fill(XSS);
    await page.getByRole("button", { name: "Add a header" }).click();
    await page.getByLabel("Header 1 name").fill("x-portal-test");
    await page.getByLabel("Header 1 value").fill("<b>not bold</b>");
    await screenshot(page, "create-subscription");
    await page.getByRole("button", { name: "Create subscription" }).click();
    await page.getByText("Subscription created.").waitFor();
    const subscriptionId = /#\/subscriptions\/([0-9a-f-]{36})/.exec(page.url())?.[1] as string;
    expect(subscriptionId).toBeDefined();
    created.subscriptionId = subscriptionId;
    // Values from the API are text: the description and header value show as typed, nothing renders.
    await page.getByText(XSS).first().waitFor();
    await page.getByText("x-portal-test: <b>not bold</b>").waitFor();
    expect(await page.locator("img, b").count()).toBe(0);
    // The filter as saved: the API answers it, the page shows it.
    expect(JSON.parse((await page.getByTestId("subscription-filter").textContent()) ?? "null")).toEqual(
      matching,
    );
    const saved = await callApi<{ filter: unknown }>(stack, "GET", `/v1/subscriptions/${subscriptionId}`, {
      key,
    });
    expect(saved.body?.filter).toEqual(matching);

    await page.getByRole("button", { name: "Reveal secret" }).click();
    const secret = (await page.getByTestId("secret").textContent()) ?? "";
    expect(secret).toMatch(/^whsec_/);

    await page.getByRole("button", { name: "Send test event" }).click();
    await page.getByText(/Test event queued/).waitFor();
    const [first] = await receiver.waitForRequests(1, 20_000);
    if (first === undefined) throw new Error("no delivery arrived");
    // What arrived is signed with the secret the portal revealed.
    expect(new Webhook(secret).verify(first.body, first.headers)).toMatchObject({ type: "webhook_test" });
    expect(first.headers["x-portal-test"]).toBe("<b>not bold</b>");

    // The delivery in the log: failed (500), one attempt, newest first.
    const row = page.locator("tbody tr", { hasText: "webhook_test" });
    await refreshUntilVisible(
      () => page.getByRole("button", { name: "Refresh" }).last().click(),
      async () => (await row.count()) > 0 && (await row.first().textContent())?.includes("500") === true,
    );
    expect(await row.first().textContent()).toContain("Failed, retrying");
    await screenshot(page, "subscription");

    await row
      .first()
      .getByRole("link", { name: /^Details/ })
      .click();
    await page.getByRole("heading", { name: "Attempt 1" }).waitFor();
    created.deliveryId = /#\/deliveries\/([0-9a-f-]{36})/.exec(page.url())?.[1];
    // The endpoint's markup is shown as characters, and nothing of it runs.
    expect(await page.locator(".response-body").first().textContent()).toBe(XSS);
    expect(await page.locator("img").count()).toBe(0);
    // The body's exact bytes, as signed and received; the pretty view beside them is labelled as such.
    expect(await page.getByTestId("request-body").textContent()).toBe(first.body);
    expect(await page.getByTestId("request-body-pretty").textContent()).toContain('"type": "webhook_test"');
    await page.getByText("Pretty-printed", { exact: true }).waitFor();
    await expect
      .poll(() => page.getByTestId("request-body-sha256").textContent())
      .toBe(createHash("sha256").update(first.body, "utf8").digest("hex"));
    // created_at to the millisecond, as the API has it.
    const apiDelivery = await callApi<{ created_at: string }>(
      stack,
      "GET",
      `/v1/deliveries/${created.deliveryId}`,
      {
        key,
      },
    );
    const createdAt = apiDelivery.body?.created_at ?? "";
    expect(createdAt).toMatch(/\.\d{3}Z$/);
    const createdCell = page
      .locator("dt", { hasText: /^Created$/ })
      .locator("xpath=following-sibling::dd[1]");
    expect(await createdCell.textContent()).toContain(createdAt.slice(11, 23));
    // The request as the delivery function recorded it: the line and the signature headers sent.
    await page
      .locator(".request-line", { hasText: `${receiver.url}/hook` })
      .first()
      .waitFor();
    const signature = page.locator("tr", { hasText: "webhook-signature" }).first();
    expect(await signature.textContent()).toContain(first.headers["webhook-signature"] ?? "(missing)");
    expect(await page.getByText("HTTP 500").count()).toBe(1);

    await page.getByRole("button", { name: "Retry" }).click();
    await page.getByRole("heading", { name: "Attempt 2" }).waitFor({ timeout: 30_000 });
    await page.getByText("HTTP 200").waitFor();
    const requests = await receiver.waitForRequests(2, 10_000);
    expect(requests[1]?.headers["webhook-id"]).toBe(first.headers["webhook-id"]);
    await page.getByText("Sent again").waitFor();
    await screenshot(page, "delivery");

    expect(browser.problems).toEqual([]);
  });

  it("finds an event by its id: which subscription it reached and how the delivery went", async () => {
    const emitted = await runNpmScript("emit", ["call_hangup", "--customer", customerId], stack.cliEnv);
    expect(emitted.code, emitted.stderr).toBe(0);
    const eventId = /→ event (\S+)/.exec(emitted.stdout)?.[1] as string;
    expect(eventId).toBeDefined();
    await receiver.waitForRequests(3, 20_000);

    const page = await browser.newPage();
    await signIn(page);
    await page.getByRole("link", { name: "Find an event" }).click();
    await page.getByLabel("Event ID").fill(eventId);
    await page.keyboard.press("Enter");
    await refreshUntilVisible(
      () => page.getByRole("button", { name: "Find" }).click(),
      () => page.getByText("Reached 1 subscription").isVisible(),
    );
    const row = page.locator("tbody tr").first();
    await expect.poll(() => row.textContent()).toContain("Succeeded");
    expect(await row.textContent()).toContain(`${receiver.url}/hook`);
    await screenshot(page, "find-event");
    expect(browser.problems).toEqual([]);
  });

  it("signs in once with an operator's portal link, and refuses used, altered and expired links", async () => {
    const minted = await runNpmScript("keys", ["portal-link", "--customer", customerId], stack.cliEnv);
    expect(minted.code, minted.stderr).toBe(0);
    const link = minted.stdout.trim();
    expect(link.startsWith(portalUrl("#link=vbpl_"))).toBe(true);

    const page = await browser.newPage();
    await page.goto(link);
    await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    // The token is gone from the address bar (and so from history); the session is an hour long.
    expect(page.url()).not.toContain("vbpl_");
    await page.getByText(/Session ends in (59|60) min/).waitFor();
    await page.getByRole("link", { name: `${receiver.url}/hook` }).waitFor();
    await screenshot(page, "subscriptions");

    const again = await browser.newPage();
    await again.goto(link);
    await again.getByRole("heading", { name: "This link has already been used" }).waitFor();

    const last = link.at(-1) === "A" ? "B" : "A";
    const altered = await browser.newPage();
    await altered.goto(`${link.slice(0, -1)}${last}`);
    await altered.getByRole("heading", { name: "This link is not valid" }).waitFor();

    const short = await runNpmScript(
      "keys",
      ["portal-link", "--customer", customerId, "--expires-in", "1s"],
      stack.cliEnv,
    );
    expect(short.code, short.stderr).toBe(0);
    const until = Date.parse(/until (\S+),/.exec(short.stderr)?.[1] ?? "");
    expect(Number.isNaN(until)).toBe(false);
    await waitFor(async () => Date.now() > until + 100, {
      timeoutMs: 5000,
      description: "the link to expire",
    });
    const expired = await browser.newPage();
    await expired.goto(short.stdout.trim());
    await expired.getByRole("heading", { name: "This link has expired" }).waitFor();
    await screenshot(expired, "link-expired");
    // Refused links reach the API and fail there (401), which the browser logs; nothing else may.
    const unexpected = browser.problems.filter((problem) => !problem.includes("status of 401"));
    expect(unexpected).toEqual([]);
    browser.problems.splice(0);
  });

  it("shows a managed legacy subscription read-only, saying who manages it", async () => {
    // VoIPBIN's customer-manager announces a customer with a webhook (PRODUCT §11).
    const managed = await mintKey(stack);
    const activeflowId = randomUUID();
    const bus = eventBridgeClient(stack);
    try {
      const data = {
        id: managed.customerId,
        webhook_uri: `${receiver.url}/legacy`,
        webhook_method: "POST",
        webhook_secret: "q3Jx-9_Zt0aVbM2kLp8sWn4eYc1HfR6u",
        tm_update: new Date().toISOString(),
      };
      const put = await bus.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: "voipbin-events",
              Source: "voipbin.customer-manager",
              DetailType: "customer_created",
              Detail: JSON.stringify({ customer_id: managed.customerId, data }),
            },
            // An activeflow with a webhook of its own (PRODUCT §11): listed read-only under the subscriptions.
            {
              EventBusName: "voipbin-events",
              Source: "voipbin.flow-manager",
              DetailType: "activeflow_created",
              Detail: JSON.stringify({
                customer_id: managed.customerId,
                data: {
                  id: activeflowId,
                  customer_id: managed.customerId,
                  status: "running",
                  webhook_uri: `${receiver.url}/flow`,
                  webhook_method: "PUT",
                  tm_create: new Date().toISOString(),
                },
              }),
            },
          ],
        }),
      );
      expect(put.FailedEntryCount).toBe(0);
    } finally {
      bus.destroy();
    }
    await waitFor(
      async () =>
        ((await callApi<{ items: unknown[] }>(stack, "GET", "/v1/subscriptions", { key: managed.key })).body
          ?.items.length ?? 0) === 1,
      { timeoutMs: 20_000, intervalMs: 200, description: "the managed subscription to exist" },
    );
    await waitFor(
      async () =>
        ((
          await callApi<{ items: unknown[] }>(stack, "GET", "/v1/activeflow-destinations", {
            key: managed.key,
          })
        ).body?.items.length ?? 0) === 1,
      { timeoutMs: 20_000, intervalMs: 200, description: "the activeflow destination to exist" },
    );
    const page = await browser.newPage();
    await page.goto(portalUrl());
    await page.getByLabel("Access key").fill(managed.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Subscriptions", level: 1 }).waitFor();
    await page.getByText("Managed by VoIPBIN").first().waitFor();
    // The activeflow destination: its URL and activeflow id, read-only (not a link, no secret).
    const destinations = page.getByRole("region", { name: "Activeflow destinations" });
    await destinations.getByText(`${receiver.url}/flow`).waitFor();
    await destinations.getByText(activeflowId).waitFor();
    expect(await destinations.getByText("Managed by VoIPBIN").count()).toBe(1);
    expect(await destinations.getByRole("link").count()).toBe(0);
    expect(await destinations.getByRole("button").count()).toBe(0);
    await page.getByRole("link", { name: `${receiver.url}/legacy` }).click();
    await page.getByText(/managed by your VoIPBIN webhook settings/).waitFor();
    await screenshot(page, "managed-subscription");
    // Read-only: no edit, disable, delete or rotate; the secret can still be revealed.
    for (const name of ["Disable", "Delete", "Rotate secret"]) {
      expect(await page.getByRole("button", { name, exact: true }).count(), name).toBe(0);
    }
    expect(await page.getByRole("link", { name: "Edit", exact: true }).count()).toBe(0);
    await page.getByRole("button", { name: "Reveal secret" }).click();
    expect(await page.getByTestId("secret").textContent()).toBe(
      `whsec_${Buffer.from("q3Jx-9_Zt0aVbM2kLp8sWn4eYc1HfR6u").toString("base64")}`,
    );
    await page.close();
  });

  it("has no serious accessibility violations (axe-core) on any screen, and fits a 375 px phone", async () => {
    const { subscriptionId, deliveryId } = created;
    if (subscriptionId === undefined || deliveryId === undefined)
      throw new Error("the first test did not run");
    // A subscription as a customer writes one: a long URL with a query, a long description.
    const longUrl = `${receiver.url}/voipbin/webhooks/receiver/production?token=abcdef0123456789&team=billing`;
    const long = await callApi(stack, "POST", "/v1/subscriptions", {
      key,
      body: {
        url: longUrl,
        event_types: ["call_hangup", "call_progressing", "message_created", "recording_finished"],
        description: "Production receiver for the call and message events of the billing team",
      },
    });
    expect(long.status, JSON.stringify(long.body)).toBe(201);
    const screens = [
      "#/subscriptions",
      "#/subscriptions/new",
      `#/subscriptions/${subscriptionId}`,
      `#/subscriptions/${subscriptionId}/edit`,
      `#/deliveries/${deliveryId}`,
      "#/events",
    ];
    for (const width of [1280, 375]) {
      const page = await browser.newPage({ width, height: 800 });
      await page.goto(portalUrl());
      await page.getByLabel("Access key").waitFor();
      expect(await seriousViolations(page), `sign-in at ${width} px`).toEqual([]);
      await signIn(page);
      for (const screen of screens) {
        await page.goto(portalUrl(screen));
        await page.locator("main h1").first().waitFor();
        await page.locator(".loading").first().waitFor({ state: "detached" });
        expect(await seriousViolations(page), `${screen} at ${width} px`).toEqual([]);
        // Page scripts are strings: this test file is type-checked for Node, not the DOM.
        const overflow = (await page.evaluate(
          "document.documentElement.scrollWidth - window.innerWidth",
        )) as number;
        expect(overflow, `${screen} is wider than the ${width} px screen`).toBeLessThanOrEqual(0);
      }
      // The list: no text drawn over other text; a URL gets the row's width, not a sliver of it.
      await page.goto(portalUrl("#/subscriptions"));
      await page.getByRole("link", { name: longUrl }).waitFor();
      expect(await overlappingText(page), `text over text in the list at ${width} px`).toEqual([]);
      const urlWidth = (await page.getByRole("link", { name: longUrl }).boundingBox())?.width ?? 0;
      if (width === 375) {
        expect(urlWidth, "the URL's width at 375 px").toBeGreaterThan(280);
        await screenshot(page, "subscriptions-phone");
        await page.goto(portalUrl(`#/deliveries/${deliveryId}`));
        await page.getByRole("heading", { name: "Attempt 2" }).waitFor();
        await screenshot(page, "delivery-phone");
      }
    }
    expect(browser.problems).toEqual([]);
  });
});
