/**
 * The web console in a real browser: Debian's chromium driven by
 * playwright-core (scripts/browser.sh installs it; no browser is ever
 * downloaded). An operator signs in, starts a preview, watches the live log,
 * sees the diff and the policy results, then starts an up and cancels it.
 * A screenshot lands in test-results/deployer-console.png.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../runtime/engine/project";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { call, type Service, startService, tempStackNames, waitForRun } from "./helpers";

function chromiumPath(): string {
    const wanted = process.env.X1_CHROMIUM ?? "/usr/bin/chromium";
    if (existsSync(wanted)) return wanted;
    return execFileSync("bash", [path.join(projectRoot, "scripts", "browser.sh")], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        timeout: 900_000,
    }).trim();
}

describe("the deployer console in Debian's chromium", () => {
    let sandbox: EngineSandbox;
    let svc: Service;
    let context: BrowserContext;
    let page: Page;
    let profile: string;
    let token: string;
    const stack = tempStackNames("ui", 1)[0]!;
    const shots = path.join(projectRoot, "test-results");

    beforeAll(async () => {
        sandbox = await engineSandbox("runtime-console");
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1-runtime-tier-passphrase";
        svc = await startService({ database: { kind: "embedded" }, maxConcurrentRuns: 1, pollIntervalMs: 500 });
        await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        token = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "operator", teams: ["ops"] } })).body.token;
        profile = mkdtempSync(path.join(tmpdir(), "x1-chromium-profile-"));
        context = await chromium.launchPersistentContext(profile, {
            executablePath: chromiumPath(),
            headless: true,
            args: [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
            viewport: { width: 1400, height: 1000 },
        });
        page = context.pages()[0] ?? (await context.newPage());
        mkdirSync(shots, { recursive: true });
    });

    afterAll(async () => {
        await context?.close();
        await svc?.close();
        sandbox?.cleanup();
        if (profile) rmSync(profile, { recursive: true, force: true });
    });

    it("starts a preview, shows the live log, then the diff and the policy results", async () => {
        await page.goto(`${svc.url}/console/`);
        await page.fill("#token", token);
        await page.click("#signin-btn");
        await page.click(`#stacks li[data-stack="${stack}"]`);
        await expect.poll(() => page.textContent("#stack-title")).toBe(`Stack ${stack}`);

        const clicked = Date.now();
        await page.click('button[data-op="preview"]');
        await page.waitForSelector("#log div", { timeout: 300_000 });
        const firstLine = Date.now() - clicked;
        // Resource lines appear while the engine works, before the run ends.
        await page.locator("#log div", { hasText: "kubernetes:core/v1:Namespace" }).first().waitFor({ timeout: 300_000 });
        await page.waitForSelector("#run-status .s-succeeded", { timeout: 600_000 });
        const log = await page.textContent("#log");
        expect(log).toMatch(/engine started/);
        expect(log).toMatch(/\+ kubernetes:core\/v1:Namespace .*\(create\)/);
        expect(log).toMatch(/run succeeded/);

        const diffRows = await page.$$eval("#diff tbody tr", (rows) => rows.map((r) => r.textContent ?? ""));
        expect(diffRows.length).toBeGreaterThan(5);
        expect(diffRows.some((r) => /^create.*kubernetes:core\/v1:Namespace/.test(r))).toBe(true);
        expect(await page.isVisible("#policy-card")).toBe(true);
        expect(await page.textContent("#policy-summary")).toMatch(
            /^(pack .* applied: \d+ mandatory, \d+ advisory|policy pack not applied: no policy pack at policies\/PulumiPolicy.yaml)/,
        );
        await page.screenshot({ path: path.join(shots, "deployer-console.png"), fullPage: true });
        console.log(
            `[runtime tier] console: click to first live log line ${firstLine} ms; ${diffRows.length} diff rows; policy: ${await page.textContent("#policy-summary")}`,
        );
    });

    it("cancels a running up from the console, while the engine works", async () => {
        await page.click('button[data-op="up"]');
        await page.waitForSelector("#cancel:not([hidden])", { timeout: 60_000 });
        // Cancel once the engine is at work: its first events are in the live log.
        await page.waitForSelector("#log div", { timeout: 300_000 });
        await page.click("#cancel");
        await page.waitForSelector("#run-status .s-cancelled", { timeout: 300_000 });
        expect(await page.textContent("#run-error")).toMatch(/cancelled by token:operator/);
        const { body } = await call(svc.url, "GET", `/v1/runs?stack=${stack}&limit=1`, { token });
        expect((await waitForRun(svc.url, token, body.runs[0].id)).status).toBe("cancelled");
        await page.screenshot({ path: path.join(shots, "deployer-console-cancelled.png"), fullPage: true });
    });
});
