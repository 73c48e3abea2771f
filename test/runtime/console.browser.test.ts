/**
 * The console's everyday workflows that need no engine run, in Debian's
 * chromium (playwright-core), against a real deployer over HTTP: signing in
 * and seeing who you are and what you may do, editing a config value with a
 * validation error shown on its key, the audit log and tokens. Each test
 * leaves a screenshot in test-results/. The workflows that run the engine
 * are in console-runs.browser.test.ts.
 */
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, pageErrors } from "./browser";
import { call, type Service, startService, tempStackNames } from "./helpers";

/** Polls what the page shows until it matches: a busy machine may take a while (the default second is too short for a server round trip under load). */
const poll = <T>(fn: () => T | Promise<T>, options: { timeout?: number } = {}) => expect.poll(fn, { timeout: 60_000, ...options });

describe("the deployer console in Debian's chromium: identity, config, audit", () => {
    let svc: Service;
    let browser: ConsoleBrowser;
    let operator: string;
    let viewer: string;
    const [stack] = tempStackNames("ui", 1) as [string];

    beforeAll(async () => {
        svc = await startService({ database: { kind: "embedded" }, maxConcurrentRuns: 1, pollIntervalMs: 500 });
        const created = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        expect(created.status).toBe(201);
        const token = async (name: string, teams: Record<string, string>) => {
            const r = await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name, teams } });
            expect(r.status, JSON.stringify(r.body)).toBe(201);
            return r.body.token as string;
        };
        operator = await token("ops-operator", { ops: "operator" });
        viewer = await token("ops-viewer", { ops: "viewer" });
        browser = await openBrowser();
    });

    afterAll(async () => {
        await browser?.close();
        await svc?.close();
    });

    const noScriptErrors = (page: Page) => expect(pageErrors(page)).toEqual([]);

    it("signs in, shows who is signed in and what they may do, and signs out", async () => {
        const page = await browser.signedIn(svc.url, operator);
        await poll(() => page.textContent("#who")).toBe("Signed in as token:ops-operator · ops (operator)");
        // Admin pages are not offered to an operator.
        expect(await page.locator('[data-nav="audit"]').isVisible()).toBe(false);
        expect(await page.locator('[data-nav="tokens"]').isVisible()).toBe(false);

        // The stack list: state at a glance.
        const row = page.locator(`#stack-table tr[data-stack="${stack}"]`);
        await row.waitFor();
        const cells = await row.locator("td").allTextContents();
        expect(cells.slice(0, 6)).toEqual([stack, "ops", "kubernetes", "1", "never applied", "no cluster"]);
        expect(cells[8]).toBe("idle");

        // The stack page: what cannot work is disabled, and says why.
        await row.getByRole("link", { name: stack }).click();
        await poll(() => page.textContent("#stack-title")).toBe(`Stack ${stack}`);
        expect(await page.isEnabled('button[data-op="preview"]')).toBe(true);
        expect(await page.isDisabled('button[data-op="refresh"]')).toBe(true);
        expect(await page.isDisabled('button[data-op="destroy"]')).toBe(true);
        expect(await page.textContent("#why-refresh")).toMatch(/renders manifests to a directory: there is no cluster/);
        expect(await page.getAttribute('button[data-op="destroy"]', "aria-describedby")).toBe("why-destroy");
        expect(await page.textContent("#stack-now")).toMatch(/idle/);
        const shot = await browser.shot(page, "console-identity");

        // A viewer reads, but is not offered a preview.
        const viewerPage = await browser.signedIn(svc.url, viewer);
        await viewerPage.goto(`${svc.url}/console/#/stacks/${stack}`);
        await poll(() => viewerPage.textContent("#who")).toBe("Signed in as token:ops-viewer · ops (viewer)");
        await viewerPage.locator('button[data-op="preview"]').waitFor();
        expect(await viewerPage.isDisabled('button[data-op="preview"]')).toBe(true);
        expect(await viewerPage.textContent("#why-preview")).toBe("Preview: needs the operator role in team ops; token:ops-viewer is viewer");
        await browser.shot(viewerPage, "console-identity-viewer");

        // Sign out: back to the sign-in form, the token forgotten (a reload stays signed out).
        await page.getByRole("button", { name: "Sign out" }).click();
        expect(await page.isVisible("#signin")).toBe(true);
        expect(await page.evaluate(() => sessionStorage.getItem("x1-token"))).toBeNull();
        await page.reload();
        expect(await page.isVisible("#signin")).toBe(true);
        expect(await page.isVisible("#main")).toBe(false);
        noScriptErrors(page);
        noScriptErrors(viewerPage);
        console.log(`[console] identity: ${shot}`);
    });

    it("edits a config value: a validation error shows on its key and nothing is written; a valid value is saved", async () => {
        const page = await browser.signedIn(svc.url, operator);
        const before = readFileSync(svc.stackFile(stack), "utf8");
        await page.goto(`${svc.url}/console/#/stacks/${stack}/config`);
        await page.locator('#config-table tr[data-key="ingress.host"]').waitFor();
        expect(await page.textContent('#config-table tr[data-key="ingress.host"]')).toContain("x1agent.localtest.me");

        await page.getByRole("button", { name: "Edit" }).click();
        const host = page.getByLabel("ingress.host", { exact: true });
        await host.fill("not a host name");
        await page.getByRole("button", { name: "Save configuration" }).click();
        await poll(() => host.getAttribute("aria-invalid")).toBe("true");
        const onKey = await page.textContent(`#${await host.getAttribute("aria-describedby")}`);
        expect(onKey).toMatch(/^ingress\.host = "not a host name": must be a DNS host name/);
        expect(await page.textContent("#config-error")).toMatch(/Not saved: 1 problem\(s\), shown on their keys/);
        // The keyboard user lands on the key to fix.
        expect(await page.locator(":focus").getAttribute("data-key")).toBe("ingress.host");
        // Gated keys are not editable here.
        expect(await page.getByLabel("secrets.tier", { exact: true }).isDisabled()).toBe(true);
        expect(readFileSync(svc.stackFile(stack), "utf8")).toBe(before);
        const shot = await browser.shot(page, "console-config-validation");

        await host.fill("console.localtest.me");
        await page.getByRole("button", { name: "Save configuration" }).click();
        await poll(() => page.textContent('#config-table tr[data-key="ingress.host"]'), { timeout: 30_000 }).toContain("console.localtest.me");
        const after = readFileSync(svc.stackFile(stack), "utf8");
        expect(after).toContain("host: console.localtest.me");
        // Comments and the other keys stay as they were (the YAML writer may space sections with a blank line).
        const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "");
        expect(lines(after.replace("console.localtest.me", "x1agent.localtest.me"))).toEqual(lines(before));
        noScriptErrors(page);
        console.log(`[console] config validation: ${shot}`);
    });

    it("shows an admin the audit log, refusals included, and issues a token shown once", async () => {
        // A refusal to find: a request with a revoked-looking token.
        const refused = await call(svc.url, "GET", "/v1/stacks", { token: "x1d_not-a-real-token" });
        expect(refused.status).toBe(401);
        const page = await browser.signedIn(svc.url, svc.adminToken);
        await poll(() => page.textContent("#who")).toMatch(/^Signed in as token:admin-[0-9a-f]+ · admin$/);
        await page.getByRole("link", { name: "Audit log" }).click();
        await page.locator("#audit-table tbody tr").first().waitFor();
        await page.getByLabel("Outcome").selectOption("denied");
        await poll(async () =>
            (await page.locator("#audit-table tbody tr").allTextContents()).some((t) => /anonymous.*unknown or revoked deployer token/.test(t)),
        ).toBe(true);
        await page.getByLabel("Outcome").selectOption("");
        await poll(async () => (await page.locator("#audit-table tbody tr").allTextContents()).some((t) => /token:ops-operator.*update-config/.test(t))).toBe(
            true,
        );
        const shot = await browser.shot(page, "console-audit");

        await page.getByRole("link", { name: "Tokens" }).click();
        await page.getByLabel("Name").fill("ci-bot");
        await page.getByLabel("Team(s)").fill("ops");
        await page.getByLabel("Role").selectOption("viewer");
        await page.getByRole("button", { name: "Issue token" }).click();
        const issued = await page.locator("#token-value").textContent({ timeout: 30_000 });
        expect(issued).toMatch(/^x1d_/);
        await poll(() => page.textContent('#tokens-table tr[data-token="ci-bot"]')).toMatch(/ops \(viewer\).*active/);
        // The token works, with the role it was issued with.
        const me = await call(svc.url, "GET", "/v1/me", { token: issued! });
        expect(me.body).toMatchObject({ subject: "token:ci-bot", teams: [{ team: "ops", role: "viewer" }] });
        await browser.shot(page, "console-tokens");
        noScriptErrors(page);
        console.log(`[console] audit: ${shot}`);
    });
});
