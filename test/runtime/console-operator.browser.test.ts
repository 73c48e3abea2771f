/**
 * The console as an operator uses it all day, in Debian's chromium
 * (playwright-core) against the real deployer over HTTP: the run history
 * filtered and paged, a drift schedule whose refused cron shows on its
 * field, webhooks added with their secret shown once, and the whole console
 * usable from the keyboard and a screen reader (every control named, text
 * contrast at WCAG AA, a visible focus, a preview started with Tab and
 * Enter). Each test leaves a screenshot in test-results/.
 *
 * Simulated, and why: no engine runs (runWorker: false). These workflows
 * read and write the deployer's records (queued runs, schedules, webhooks);
 * none needs a run to end. Runs that do end are console-runs.browser.test.ts.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, pageErrors } from "./browser";
import { call, pointAtCluster, type Service, startService, tempStackNames } from "./helpers";

const poll = <T>(fn: () => T | Promise<T>, options: { timeout?: number } = {}) => expect.poll(fn, { timeout: 60_000, ...options });

/** What a screen reader and a low-vision user would miss on the page as it is now. */
interface A11yFindings {
    /** Controls without an accessible name. */
    unnamed: string[];
    /** Text below WCAG AA contrast on its background (4.5:1, 3:1 for large text). */
    lowContrast: string[];
}

/** Checks the visible page: every form control and button named, every text readable. Disabled controls are exempt from contrast (WCAG 1.4.3). */
async function a11y(page: Page): Promise<A11yFindings> {
    return (await page.evaluate(`(() => {
        const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden" && e.getBoundingClientRect().width > 1;
        const describe = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + " " + JSON.stringify((e.textContent || e.value || "").trim().slice(0, 40));
        const unnamed = [];
        for (const e of document.querySelectorAll("input, select, textarea, button, a[href]")) {
            if (!visible(e) || e.type === "hidden") continue;
            const labelled = e.getAttribute("aria-label") || e.getAttribute("aria-labelledby") || (e.labels && [...e.labels].some((l) => l.textContent.trim()));
            const text = (e.tagName === "BUTTON" || e.tagName === "A") && e.textContent.trim();
            if (!labelled && !text) unnamed.push(describe(e));
        }
        const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
        const lum = (c) => {
            const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const background = (e) => {
            for (let n = e; n; n = n.parentElement) {
                const c = rgb(getComputedStyle(n).backgroundColor);
                if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c;
            }
            return [255, 255, 255];
        };
        const lowContrast = [];
        for (const e of document.querySelectorAll("body *")) {
            if (!visible(e) || e.closest(":disabled, .sr")) continue;
            const ownText = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
            if (!ownText) continue;
            const style = getComputedStyle(e);
            const fg = rgb(style.color);
            const bg = background(e);
            const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
            const ratio = (hi + 0.05) / (lo + 0.05);
            const size = parseFloat(style.fontSize);
            const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
            if (ratio < (large ? 3 : 4.5)) lowContrast.push(describe(e) + " " + ratio.toFixed(2) + ":1 (" + style.color + " on rgb(" + bg.join(", ") + "))");
        }
        return { unnamed, lowContrast };
    })()`)) as A11yFindings;
}

describe("the deployer console as an operator uses it all day", () => {
    let svc: Service;
    let browser: ConsoleBrowser;
    let operator: string;
    let viewer: string;
    const [stack] = tempStackNames("uiop", 1) as [string];

    beforeAll(async () => {
        svc = await startService({ database: { kind: "embedded" }, runWorker: false });
        const created = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        // Named a cluster: drift checks and their schedule are offered (no check runs here).
        await pointAtCluster(svc.url, svc.adminToken, stack, { kubeContext: "x1agent-local" });
        const token = async (name: string, role: string) =>
            (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name, teams: { ops: role } } })).body.token as string;
        operator = await token("ops-operator", "operator");
        viewer = await token("ops-viewer", "viewer");
        browser = await openBrowser();
    });

    afterAll(async () => {
        await browser?.close();
        await svc?.close();
    });

    const rows = (page: Page) => page.locator("#runs-table tbody tr[data-run]");

    it("filters the run history by operation and status and pages through it, 15 runs a page", async () => {
        // 15 previews, 2 ups and a refresh, queued by API as the portal would; one preview cancelled.
        const ids: string[] = [];
        for (const operation of [...Array(15).fill("preview"), "up", "up", "refresh"]) {
            const r = await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token: operator, body: { operation } });
            expect(r.status, JSON.stringify(r.body)).toBe(202);
            ids.push(r.body.run.id);
        }
        expect((await call(svc.url, "POST", `/v1/runs/${ids[0]}/cancel`, { token: operator })).status).toBe(200);

        const page = await browser.signedIn(svc.url, operator);
        await page.goto(`${svc.url}/console/#/stacks/${stack}`);
        await poll(() => rows(page).count()).toBe(15);
        // Newest first: id, operation, who, when, duration, changes, status.
        const top = await rows(page).first().locator("td").allTextContents();
        expect(top[0]).toBe(ids[17]!.slice(0, 8));
        expect(top.slice(1, 3)).toEqual(["refresh", "token:ops-operator"]);
        expect(top[3]).toMatch(/\d/);
        expect(top[4]).toBe("waiting");
        expect(top[6]).toBe("queued");
        expect(await page.textContent("#stack-now")).toMatch(/17 queued/);
        expect(await page.textContent("#runs-page")).toBe("page 1");
        expect(await page.isDisabled("#runs-newer")).toBe(true);

        await page.click("#runs-older");
        await poll(() => page.textContent("#runs-page")).toBe("page 2");
        await poll(() => rows(page).count()).toBe(3);
        expect(await rows(page).last().getAttribute("data-run")).toBe(ids[0]);
        expect(await rows(page).last().locator("td").last().textContent()).toBe("cancelled");
        expect(await page.isDisabled("#runs-older")).toBe(true);
        await page.click("#runs-newer");
        await poll(() => page.textContent("#runs-page")).toBe("page 1");

        await page.getByLabel("Operation").selectOption("up");
        await poll(async () => (await rows(page).locator("td:nth-child(2)").allTextContents()).join(",")).toBe("up,up");
        await page.getByLabel("Status").selectOption("cancelled");
        await poll(() => page.locator("#runs-table tbody").textContent()).toBe("No runs match this filter.");
        await page.getByLabel("Operation").selectOption("preview");
        await poll(() => rows(page).count()).toBe(1);
        expect(await rows(page).first().getAttribute("data-run")).toBe(ids[0]);
        const shot = await browser.shot(page, "console-runs-filter");
        expect(pageErrors(page)).toEqual([]);
        console.log(`[console] run history: 18 runs, 2 pages, filters; ${shot}`);
    });

    it("shows a refused drift schedule on its field, then saves a valid one", async () => {
        const page = await browser.signedIn(svc.url, operator);
        await page.goto(`${svc.url}/console/#/stacks/${stack}/schedule`);
        const cron = page.getByLabel(/^Cron, UTC/);
        await cron.fill("61 * * * *");
        await page.getByRole("button", { name: "Save schedule" }).click();
        await poll(() => cron.getAttribute("aria-invalid")).toBe("true");
        expect(await page.textContent("#schedule-cron-error")).toMatch(/^does not parse \(Invalid value for minute: 61\): write five fields/);
        expect(await page.textContent("#schedule-error")).toBe("Not saved: drift.cron '61 * * * *' is refused (see the field). The schedule is unchanged.");
        // The keyboard user lands on the field to fix; the field's description is the problem.
        expect(await page.evaluate("document.activeElement.id")).toBe("schedule-cron");
        expect(await cron.getAttribute("aria-describedby")).toBe("schedule-cron-error");
        const refused = await browser.shot(page, "console-schedule-refused");
        expect((await call(svc.url, "GET", `/v1/stacks/${stack}/schedule`, { token: operator })).body.drift).toBeNull();

        await cron.fill("0 */6 * * *");
        await page.getByRole("button", { name: "Save schedule" }).click();
        await poll(() => page.textContent("#schedule-summary")).toMatch(
            /^Drift is checked on cron "0 \*\/6 \* \* \*"; drift is reported, not remediated\. Next check: .*\. Set by token:ops-operator\.$/,
        );
        expect(await page.textContent("#schedule-error")).toBe("");
        expect((await call(svc.url, "GET", `/v1/stacks/${stack}/schedule`, { token: operator })).body.drift).toMatchObject({
            cron: "0 */6 * * *",
            remediate: false,
        });
        // A viewer sees the schedule and why they cannot change it.
        const view = await browser.signedIn(svc.url, viewer);
        await view.goto(`${svc.url}/console/#/stacks/${stack}/schedule`);
        await poll(() => view.textContent("#schedule-summary")).toMatch(/^Drift is checked on cron "0 \*\/6 \* \* \*"/);
        expect(await view.isDisabled("#schedule-cron")).toBe(true);
        expect(await view.textContent("#schedule-summary + div + p")).toBe("Changing it: needs the operator role in team ops; token:ops-viewer is viewer");
        const shot = await browser.shot(page, "console-schedule");
        expect(pageErrors(page)).toEqual([]);
        expect(pageErrors(view)).toEqual([]);
        console.log(`[console] schedule: ${refused}, ${shot}`);
    });

    it("adds a webhook as an admin: its secret is shown once, it is listed with its deliveries", async () => {
        const page = await browser.signedIn(svc.url, svc.adminToken);
        await page.getByRole("link", { name: "Webhooks" }).click();
        // The events offered are the deployer's list (GET /v1/webhooks), all ticked.
        const { events } = (await call(svc.url, "GET", "/v1/webhooks", { token: svc.adminToken })).body;
        const offered = () => page.evaluate(`[...document.querySelectorAll("#webhook-events input[type=checkbox]")].map((b) => b.value + ":" + b.checked)`);
        await poll(offered).toEqual(events.map((e: string) => `${e}:true`));
        await page.getByLabel("Team").fill("ops");
        await page.getByLabel("URL").fill("https://hooks.example.com/x1");
        await page.getByLabel("run.succeeded").uncheck();
        await page.getByRole("button", { name: "Add webhook" }).click();
        await poll(() => page.textContent("#webhook-secret")).toMatch(/\S{16,}/);
        const row = page.locator("#webhooks-table tbody tr[data-webhook]");
        await poll(() => row.count()).toBe(1);
        const cells = await row.locator("td").allTextContents();
        expect(cells.slice(0, 3)).toEqual(["ops", "https://hooks.example.com/x1", "run.failed, run.cancelled, drift.found, approval.needed, approval.expired"]);
        await page.getByRole("button", { name: "Deliveries to https://hooks.example.com/x1" }).click();
        await poll(() => page.textContent("#deliveries")).toMatch(/^Deliveries to https:\/\/hooks\.example\.com\/x1.*No deliveries yet\.$/);
        const shot = await browser.shot(page, "console-webhooks");
        // The secret is not shown again.
        await page.reload();
        await poll(() => row.count()).toBe(1);
        expect(await page.locator("#webhook-secret").count()).toBe(0);
        expect(pageErrors(page)).toEqual([]);
        console.log(`[console] webhooks: ${shot}`);
    });

    it("works from the keyboard and a screen reader: every control named, text readable, focus visible, a preview started with Tab and Enter", async () => {
        const page = await browser.signedIn(svc.url, operator);
        const admin = await browser.signedIn(svc.url, svc.adminToken);
        const visits: [Page, string][] = [
            [page, "#/"],
            [page, `#/stacks/${stack}`],
            [page, `#/stacks/${stack}/config`],
            [page, `#/stacks/${stack}/outputs`],
            [page, `#/stacks/${stack}/drift`],
            [page, `#/stacks/${stack}/schedule`],
            [page, "#/approvals"],
            [page, "#/webhooks"],
            [admin, "#/audit"],
            [admin, "#/tokens"],
        ];
        // The check itself finds what it looks for: an unnamed field and grey-on-white text.
        await page.goto(`${svc.url}/console/#/`);
        await page.locator("main section").first().waitFor();
        await page.evaluate(
            // The colour through the CSSOM: the console's Content-Security-Policy refuses inline style attributes.
            `(() => {
                document.querySelector("main").insertAdjacentHTML("beforeend", '<p id="faint">faint</p><input id="nameless">');
                document.querySelector("#faint").style.color = "#aaa";
            })()`,
        );
        const planted = await a11y(page);
        expect(planted.unnamed).toEqual(['input#nameless ""']);
        expect(planted.lowContrast).toEqual(['p#faint "faint" 2.15:1 (rgb(170, 170, 170) on rgb(244, 246, 249))']);
        await page.evaluate(`for (const id of ["faint", "nameless"]) document.getElementById(id).remove()`);
        const findings: Record<string, A11yFindings> = {};
        for (const [p, hash] of visits) {
            await p.goto(`${svc.url}/console/${hash}`);
            await p.locator("main section").first().waitFor();
            await p.waitForLoadState("networkidle");
            const f = await a11y(p);
            if (f.unnamed.length || f.lowContrast.length) findings[hash] = f;
        }
        expect(findings).toEqual({});

        // From the top of the stack page, Tab reaches Preview; the focus is visible; Enter starts it.
        await page.goto(`${svc.url}/console/#/stacks/${stack}`);
        await page.locator("#stack-actions button").first().waitFor();
        await page.locator("body").focus();
        let reached = false;
        for (let i = 0; i < 30 && !reached; i++) {
            await page.keyboard.press("Tab");
            reached = (await page.evaluate("document.activeElement?.textContent")) === "Preview";
        }
        expect(reached).toBe(true);
        expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).toBe("solid");
        const focused = await browser.shot(page, "console-keyboard");
        await page.keyboard.press("Enter");
        await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        await poll(() => page.textContent("#run-title .badge")).toBe("queued");
        expect(pageErrors(page)).toEqual([]);
        expect(pageErrors(admin)).toEqual([]);
        console.log(`[console] accessibility: ${visits.length} pages checked; ${focused}`);
    });
});
