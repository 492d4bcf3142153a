import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTickler } from "../helpers/tickler.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../artifacts/", import.meta.url).pathname;
const ADMIN = "admin-token-console-0123456789";
const ALICE = "alice-token-console-0123456789";
/** Flags for a sandboxed machine with no network beyond loopback (see the env notes). */
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe.skipIf(!existsSync(CHROMIUM))("the operator console in a real browser (Debian chromium)", () => {
  const fx = useTickler("console", {
    sink: true,
    file: () => ({
      tokens: [
        { token: ADMIN, role: "admin" },
        { token: ALICE, user_id: "alice" },
      ],
      agents: {
        default: { url: fx.sink.url },
        paced: { url: `${fx.sink.url}/paced`, max_in_flight: 3, circuit: {} },
      },
    }),
  });
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it("needs an admin: 401 with a Basic prompt without credentials, 403 for a user token", async () => {
    const anonymous = await fetch(`${fx.t.base}/console`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect(
      (await fetch(`${fx.t.base}/console`, { headers: { authorization: `Bearer ${ALICE}` } })).status,
    ).toBe(403);
    const basic = { authorization: `Basic ${Buffer.from(`ops:${ADMIN}`).toString("base64")}` };
    const forged = await fetch(`${fx.t.base}/v1/users/alice/triggers/x/run`, {
      method: "POST",
      headers: basic,
    });
    expect(forged.status).toBe(403);
  });

  it("shows each agent's limits and circuit, and pauses and resumes a user's triggers in bulk after a dry run", async () => {
    const context = await browser.newContext({ httpCredentials: { username: "ops", password: ADMIN } });
    const page = await context.newPage();
    const auth = { authorization: `Bearer ${ADMIN}` };
    try {
      for (const name of ["b1", "b2"])
        await fx.t.api("PUT", `/v1/users/bulky/triggers/${name}`, { prompt: name, every: "1h" }, auth);
      await page.goto(`${fx.t.base}/console`);
      const paced = page.locator("#agents tbody tr", { hasText: "paced" });
      await paced.waitFor();
      expect(await paced.textContent()).toContain("max_in_flight 3");
      expect(await paced.locator(".status").textContent()).toBe("closed");
      await page.fill("#filter-user", "bulky");
      await page.press("#filter-user", "Enter");
      await page.locator('tr[data-id="bulky/b1"]').waitFor();
      let asked = "";
      page.once("dialog", (dialog) => {
        asked = dialog.message();
        void dialog.accept();
      });
      await page.click("#bulk-pause");
      await page.locator("#bulk-result", { hasText: "Pause: 2 done." }).waitFor();
      expect(asked).toBe("Pause 2 triggers of bulky?");
      const state = async (name: string) =>
        (await fx.t.api("GET", `/v1/users/bulky/triggers/${name}`, undefined, auth)).body.state;
      expect([await state("b1"), await state("b2")]).toEqual(["paused", "paused"]);
      page.once("dialog", (dialog) => void dialog.dismiss());
      await page.click("#bulk-resume");
      await page.waitForTimeout(200); // a dismissed dialog changes nothing: nothing to wait for
      expect([await state("b1"), await state("b2")]).toEqual(["paused", "paused"]);
      await page.click("#bulk-pause");
      await page.locator("#bulk-result", { hasText: "Nothing to pause." }).waitFor();
    } finally {
      await context.close();
    }
  }, 60_000);

  it("creates a trigger with a live preview, sees it fire in the run drawer, pauses and cancels it", async () => {
    const context = await browser.newContext({
      httpCredentials: { username: "ops", password: ADMIN },
      viewport: { width: 1360, height: 820 },
      timezoneId: "Europe/Berlin",
    });
    const page = await context.newPage();
    try {
      await page.goto(`${fx.t.base}/console`);
      await fx.t.api(
        "PUT",
        "/v1/users/ops/triggers/daily-digest",
        { prompt: "Post the daily digest", cron: "0 9 * * 1-5", timezone: "America/New_York" },
        { authorization: `Bearer ${ADMIN}` },
      );
      await page.fill("#new-user", "alice");
      await page.fill("#new-name", "hello");
      await page.fill("#new-prompt", "Say hello to Alice");
      await page.fill("#new-when", "every 10s");
      await page.locator("#preview li").first().waitFor();
      expect(await page.locator("#preview .kind").textContent()).toBe("heartbeat");
      expect(await page.locator("#new-timezone").inputValue()).toBe("Europe/Berlin");

      await page.fill("#new-when", "0 9 * *");
      await page.locator("#preview.error").waitFor();
      expect(await page.locator("#preview").textContent()).toContain("expected 5 or 6 fields");

      await page.fill("#new-when", "in 2s");
      await page.locator("#preview li").first().waitFor();
      await page.click("#create-button");
      const row = page.locator('tr[data-id="alice/hello"]');
      await row.waitFor();
      expect(await row.locator("td").nth(2).textContent()).toBe("once");

      await row.locator('button[data-act="runs"]').click();
      await page.locator("#drawer").waitFor();
      // Delivered by the worker and pushed to the page over /v1/events, with no reload.
      await page.locator("#runs .status-succeeded").waitFor({ timeout: 15_000 });
      expect(fx.sink.received.some((r) => r.body.prompt === "Say hello to Alice")).toBe(true);
      await page.locator('tr[data-id="alice/hello"] .status-succeeded').waitFor({ timeout: 5000 });
      await page.screenshot({ path: `${ARTIFACTS}console.png`, fullPage: true });

      const helloRun = await page.locator("#runs li").first().getAttribute("data-run");
      await page.click("#drawer-close");
      await page.fill("#filter-user", "ops");
      await page.press("#filter-user", "Enter");
      await page.locator('tr[data-id="alice/hello"]').waitFor({ state: "detached" });
      const digest = page.locator('tr[data-id="ops/daily-digest"]');
      // The drawer must never show the previous trigger's runs under the next one's title, not even until
      // the next one's history loads: checked the moment the title changes, before any later event runs.
      await page.evaluate(`
        window.staleShown = false;
        new MutationObserver(() => {
          window.staleShown ||= document.querySelector('#runs li[data-run="${helloRun}"]') !== null;
        }).observe(document.querySelector("#drawer-title"), { childList: true, characterData: true, subtree: true });
      `);
      await digest.locator('button[data-act="run"]').click();
      await page.locator("#runs .status-succeeded").waitFor({ timeout: 15_000 });
      expect(await page.locator("#runs li").first().textContent()).toContain("manual");
      expect(await page.evaluate("window.staleShown")).toBe(false);
      expect(
        fx.sink.received.some((r) => r.body.prompt === "Post the daily digest" && r.body.manual === true),
      ).toBe(true);
      await page.click("#drawer-close");
      expect(await digest.textContent()).toContain("every weekday at 09:00 America/New_York");
      await digest.locator('button[data-act="pause"]').click();
      await digest.locator('button[data-act="resume"]').waitFor();
      expect(
        (
          await fx.t.api("GET", "/v1/users/ops/triggers/daily-digest", undefined, {
            authorization: `Bearer ${ADMIN}`,
          })
        ).body.state,
      ).toBe("paused");
      await digest.locator('button[data-act="resume"]').click();
      await digest.locator('button[data-act="pause"]').waitFor();
      expect(
        (
          await fx.t.api("GET", "/v1/users/ops/triggers/daily-digest", undefined, {
            authorization: `Bearer ${ADMIN}`,
          })
        ).body.state,
      ).toBe("active");
      page.once("dialog", (dialog) => void dialog.accept());
      await digest.locator('button[data-act="cancel"]').click();
      await digest.waitFor({ state: "detached" });
      expect(
        (
          await fx.t.api("GET", "/v1/users/ops/triggers/daily-digest", undefined, {
            authorization: `Bearer ${ADMIN}`,
          })
        ).status,
      ).toBe(404);

      await page.goto(`${fx.t.base}/admin/queues`);
      await page.getByText("tickler fires").first().waitFor({ timeout: 15_000 });
      await page.screenshot({ path: `${ARTIFACTS}bull-board.png` });
    } finally {
      await context.close();
    }
  }, 60_000);
});
