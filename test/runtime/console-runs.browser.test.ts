/**
 * The console's workflows that run the engine, in Debian's chromium
 * (playwright-core) against a real deployer over HTTP, real previews and
 * ups of copies of the `render` stack: a preview whose diff and policy
 * results grow while it runs, the double-click guard, a policy-failed `up`
 * said plainly (partly applied, each cause once), and a gated `up` approved
 * by a second user. Each test leaves a screenshot in test-results/.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { type ConsoleBrowser, openBrowser, pageErrors } from "./browser";
import { call, type Service, startService, tempStackNames, waitForRun } from "./helpers";

/** What the run page showed while its run was active, sampled until it ended. */
interface Watched {
    /** Diff and policy rows seen while the run was still queued or running. */
    liveDiffRows: number;
    livePolicyRows: number;
    status: string;
    /** Moments the stack header and the run list disagreed. */
    contradictions: string[];
    screenshotWhileRunning?: string;
}

/** Follows the open run page until the run ends, noting what it showed before the end. */
async function watchRun(page: Page, browser: ConsoleBrowser, shotName?: string, timeoutMs = 900_000): Promise<Watched> {
    const seen: Watched = { liveDiffRows: 0, livePolicyRows: 0, status: "", contradictions: [] };
    const end = Date.now() + timeoutMs;
    await page.locator("#run-title .badge").waitFor();
    for (;;) {
        // One read of the page (a string, so it runs in the page as it is): the run's badge, its row in the
        // list, the header's "Now", and rows of real results (the placeholder row spans every column).
        const sample = (await page.evaluate(`(() => {
            const text = (sel) => document.querySelector(sel)?.textContent ?? "";
            const rows = (sel) => [...document.querySelectorAll(sel + " tbody tr")].filter((r) => !r.querySelector("td[colspan]")).length;
            const id = location.hash.split("/runs/")[1];
            return { status: text("#run-title .badge"), listed: text('#runs-table tr[data-run="' + id + '"] td:last-child'), now: text("#stack-now"),
                     diff: rows("#diff"), policy: rows("#policy") };
        })()`)) as { status: string; listed: string; now: string; diff: number; policy: number };
        // The header and the run list come from one read of the stack: they never disagree.
        if ((sample.listed === "running" && !/running/.test(sample.now)) || (sample.listed === "queued" && !/queued|running/.test(sample.now))) {
            seen.contradictions.push(`list says ${sample.listed}, header says ${sample.now}`);
        }
        seen.status = sample.status;
        if (!/^(queued|running)$/.test(sample.status)) return seen;
        seen.liveDiffRows = Math.max(seen.liveDiffRows, sample.diff);
        seen.livePolicyRows = Math.max(seen.livePolicyRows, sample.policy);
        if (shotName && !seen.screenshotWhileRunning && sample.diff > 3) seen.screenshotWhileRunning = await browser.shot(page, shotName);
        if (Date.now() > end) throw new Error(`the run page still shows ${sample.status} after ${timeoutMs / 1000}s`);
        await new Promise((r) => setTimeout(r, 150));
    }
}

/** Polls what the page shows until it matches: a busy machine may take a while (the default second is too short for a server round trip under load). */
const poll = <T>(fn: () => T | Promise<T>, options: { timeout?: number } = {}) => expect.poll(fn, { timeout: 60_000, ...options });

describe("the deployer console in Debian's chromium: runs", () => {
    let sandbox: EngineSandbox;
    let svc: Service;
    let browser: ConsoleBrowser;
    let operator: string;
    let approver: string;
    const [stack, failing] = tempStackNames("uir", 2) as [string, string];

    beforeAll(async () => {
        sandbox = await engineSandbox("runtime-console");
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1-runtime-tier-passphrase";
        svc = await startService({ database: { kind: "embedded" }, maxConcurrentRuns: 2, pollIntervalMs: 500 });
        for (const name of [stack, failing]) {
            const r = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name, from: "render", team: "ops" } });
            expect(r.status, JSON.stringify(r.body)).toBe(201);
        }
        const token = async (name: string, role: string) => {
            const r = await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name, teams: { ops: role } } });
            expect(r.status, JSON.stringify(r.body)).toBe(201);
            return r.body.token as string;
        };
        operator = await token("ops-operator", "operator");
        approver = await token("ops-approver", "approver");
        browser = await openBrowser();
    });

    afterAll(async () => {
        await browser?.close();
        await svc?.close();
        sandbox?.cleanup();
    });

    const runsOf = async (name: string, operation: string) =>
        (await call(svc.url, "GET", `/v1/runs?stack=${name}&operation=${operation}&limit=100`, { token: svc.adminToken })).body.runs as Record<string, any>[];

    it("starts a preview whose diff and policy results grow while it runs", async () => {
        const page = await browser.signedIn(svc.url, operator);
        await page.goto(`${svc.url}/console/#/stacks/${stack}`);
        await page.getByRole("button", { name: "Preview" }).click();
        await page.waitForURL(/#\/stacks\/[^/]+\/runs\/[0-9a-f-]{36}$/);
        const watched = await watchRun(page, browser, "console-preview-live");
        expect(watched.status).toBe("succeeded");
        // The diff was on screen before the run ended, not only at the end.
        expect(watched.liveDiffRows).toBeGreaterThan(3);
        expect(watched.screenshotWhileRunning).toBeDefined();
        expect(watched.contradictions).toEqual([]);

        const outcome = await page.textContent("#run-outcome");
        expect(outcome).toMatch(
            /^Preview: \d+ to create0 unchanged\. The stack's own resource \(pulumi:pulumi:Stack\) would be created too\. Nothing has been changed yet: Up applies it\./,
        );
        const diffRows = await page.locator("#diff tbody tr").allTextContents();
        expect(diffRows.some((r) => /^createkubernetes:core\/v1:Namespace/.test(r))).toBe(true);
        // One number: the headline, the diff, its note, the log's summary and the API's counts all count the platform's
        // resources (the engine's totals also count the stack's own resource, which is said apart).
        const headline = Number(/^Preview: (\d+) to create/.exec(outcome ?? "")?.[1]);
        expect(diffRows.every((r) => r.startsWith("create"))).toBe(true);
        expect(headline).toBe(diffRows.length);
        expect(await page.textContent("#diff-summary")).toBe(
            `${diffRows.length} resource(s) change; the stack's own resource (pulumi:pulumi:Stack) would be created too`,
        );
        expect(await page.textContent("#log")).toMatch(
            new RegExp(`summary: ${diffRows.length} to create \\(0 unchanged\\); the stack's own resource \\(pulumi:pulumi:Stack\\) would be created too in `),
        );
        const runId = page.url().split("/runs/")[1];
        const { run } = (await call(svc.url, "GET", `/v1/runs/${runId}`, { token: operator })).body;
        expect(run.counts).toEqual({ create: diffRows.length, update: 0, same: 0, delete: 0, replace: 0 });
        expect(run.changes).toHaveLength(diffRows.length);
        expect(await page.textContent("#policy-summary")).toMatch(/^pack .* applied: \d+ mandatory, \d+ advisory result\(s\)$/);
        // The run list row: id, operation, who, when, duration, counts, status.
        const row = await page.locator("#runs-table tbody tr").first().locator("td").allTextContents();
        expect(row[1]).toBe("preview");
        expect(row[2]).toBe("token:ops-operator");
        expect(row[4]).toMatch(/^\d+ (s|min \d+ s)$/);
        expect(row[5]).toMatch(/^\+\d+/);
        expect(row[6]).toBe("succeeded");
        // The header and the list agree: nothing runs now.
        expect(await page.textContent("#stack-now")).toMatch(/idle/);
        const shot = await browser.shot(page, "console-preview");
        expect(pageErrors(page)).toEqual([]);
        console.log(
            `[console] preview: ${watched.liveDiffRows} diff and ${watched.livePolicyRows} policy row(s) live; ${diffRows.length} at the end; ${watched.screenshotWhileRunning}, ${shot}`,
        );
    });

    // The repeat after a lost answer (same Idempotency-Key, one run) is console-lost-answer.browser.test.ts.
    it("queues one preview for a double click", async () => {
        const page = await browser.signedIn(svc.url, operator);
        await page.goto(`${svc.url}/console/#/stacks/${stack}`);
        const before = (await runsOf(stack, "preview")).length;
        const keys: string[] = [];
        page.on("request", (r) => {
            if (r.method() === "POST" && r.url().endsWith(`/v1/stacks/${stack}/runs`)) keys.push(r.headers()["idempotency-key"] ?? "(none)");
        });
        await page.getByRole("button", { name: "Preview" }).dblclick();
        await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        const first = page.url().split("/runs/")[1]!;
        expect((await runsOf(stack, "preview")).length).toBe(before + 1);
        expect(keys.length).toBeGreaterThanOrEqual(1);
        expect(keys.every((k) => k === keys[0] && k.startsWith("console-"))).toBe(true);
        const shot = await browser.shot(page, "console-double-click");
        // Cancel it from the console: the run page says who cancelled.
        await page.getByRole("button", { name: "Cancel run" }).click();
        await poll(() => page.textContent("#run-title .badge"), { timeout: 300_000 }).toBe("cancelled");
        expect(await page.textContent("#run-outcome")).toMatch(/cancelled by token:ops-operator/);
        expect((await waitForRun(svc.url, operator, first)).status).toBe("cancelled");

        expect(pageErrors(page)).toEqual([]);
        console.log(`[console] double click: one run, one key; ${shot}`);
    });

    it("says plainly that a policy-failed up partly applied the stack, each cause once", async () => {
        // Tier 1 without etcd encryption passes the schema and fails a mandatory stack policy, checked after the resources.
        const detail = (await call(svc.url, "GET", `/v1/stacks/${failing}`, { token: operator })).body;
        const edit = await call(svc.url, "PUT", `/v1/stacks/${failing}/config`, {
            token: operator,
            body: { config: { ...detail.config, etcdEncryption: { enabled: false } }, revision: detail.revision },
        });
        expect(edit.status, JSON.stringify(edit.body)).toBe(200);
        const page = await browser.signedIn(svc.url, operator);
        await page.goto(`${svc.url}/console/#/stacks/${failing}`);
        await page.getByRole("button", { name: "Up" }).click();
        await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        const watched = await watchRun(page, browser);
        expect(watched.status).toBe("failed, partly applied");
        const outcome = (await page.textContent("#run-outcome"))!;
        expect(outcome).toMatch(/^Partly appliedthe stack is partly applied: the engine \d+ created/);
        // Each cause once: the policy named once in the outcome, its repeated log lines collapsed.
        expect(outcome.match(/tier1-requires-etcd-encryption/g)).toHaveLength(1);
        // The policy table: the violation once, its level on one line (not "mandatory" one letter per line).
        const levels = page.locator("#policy tbody td:nth-child(2) .badge");
        await poll(() => levels.allTextContents()).toEqual(["mandatory"]);
        // Measured until the table holds still: the page redraws it as the run's last updates come, and a
        // badge detached in between has no box (the rehearsal met that once).
        await poll(async () => (await levels.first().boundingBox())?.height ?? Number.POSITIVE_INFINITY).toBeLessThan(30);
        const diagnostics = await page.locator("#log .l-error, #log .l-warning").allTextContents();
        expect(diagnostics.length).toBeGreaterThan(0);
        expect(new Set(diagnostics).size).toBe(diagnostics.length);
        // The stack list reads the last up, not the last run of any kind.
        await page.goto(`${svc.url}/console/#/`);
        await poll(() => page.textContent(`#stack-table tr[data-stack="${failing}"] td:nth-child(5)`)).toMatch(/^failed, partly applied/);
        await page.goto(`${svc.url}/console/#/stacks/${failing}/runs/${(await runsOf(failing, "up"))[0]!.id}`);
        await page.locator("#run-outcome").waitFor();
        const shot = await browser.shot(page, "console-up-partly-applied");
        expect(pageErrors(page)).toEqual([]);
        console.log(`[console] partly applied up: ${watched.livePolicyRows} policy row(s) shown before the run ended; ${shot}`);
    });

    it("approves a gated up as a second user, with the preview in front of them", async () => {
        const policy = await call(svc.url, "PUT", `/v1/stacks/${stack}/approval-policy`, { token: svc.adminToken, body: { up: true, destroy: true } });
        expect(policy.status, JSON.stringify(policy.body)).toBe(200);
        const requester = await browser.signedIn(svc.url, operator);
        await requester.goto(`${svc.url}/console/#/stacks/${stack}`);
        await requester.getByRole("button", { name: "Up" }).click();
        await requester.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        expect(await requester.textContent("#stack-note")).toMatch(/This up needs an approval/);
        await watchRun(requester, browser);
        await browser.shot(requester, "console-approval-requested");

        // The approver sees it pending, opens it, reads the preview and approves.
        const page = await browser.signedIn(svc.url, approver);
        await poll(() => page.textContent("#nav-approvals")).toBe("1");
        await page.getByRole("link", { name: /Approvals/ }).click();
        const row = page.locator("#approvals-table tbody tr").first();
        await poll(() => row.textContent()).toMatch(new RegExp(`${stack}.*token:ops-operator.*pending`));
        await row.getByRole("link").click();
        await page.locator("#approval-facts").waitFor();
        await poll(() => page.textContent("#run-outcome"), { timeout: 300_000 }).toMatch(/^Preview: \d+ to create/);
        expect(await page.locator("#diff tbody tr").count()).toBeGreaterThan(3);
        const shot = await browser.shot(page, "console-approval");
        await page.getByRole("button", { name: "Approve" }).click();
        await poll(async () => (await runsOf(stack, "up")).length, { timeout: 60_000 }).toBe(1);
        const up = (await runsOf(stack, "up"))[0]!;
        expect((await waitForRun(svc.url, operator, up.id)).status).toBe("succeeded");

        // The requester's stack page shows the applied up; a new preview reads as no change.
        await requester.goto(`${svc.url}/console/#/stacks/${stack}`);
        await poll(() => requester.textContent("#stack-state")).toMatch(/Last up:succeeded/);
        await requester.getByRole("button", { name: "Preview" }).click();
        await requester.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        await watchRun(requester, browser);
        expect(await requester.textContent("#run-outcome")).toMatch(
            /^No changesThe stack matches its configuration: \d+ resource\(s\) unchanged\. Nothing to apply\./,
        );
        const noChange = await browser.shot(requester, "console-no-change-preview");
        expect(pageErrors(page)).toEqual([]);
        expect(pageErrors(requester)).toEqual([]);
        console.log(`[console] approval: ${shot}; no-change preview: ${noChange}`);
    });
});
