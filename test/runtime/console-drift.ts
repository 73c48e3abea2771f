/**
 * Seeing drift in the console, as an operator does: one function any tier
 * calls once a drift check has recorded its finding. The runtime tier calls
 * it on a finding written as the worker records it
 * (console-drift.browser.test.ts); the cluster tier calls it after the
 * deployer's scheduled drift check found drift made with kubectl on the
 * real cluster (test/cluster/platform.test.ts).
 */
import type { Page } from "playwright-core";
import { type ConsoleBrowser, openBrowser, pageErrors } from "./browser";

/** One resource the drift report must list. */
export interface ExpectedDrift {
    /**
     * The resource's name as the engine names it: the last segment of its
     * URN, e.g. "x1agent-workspaces-demo-namespace" (the Pulumi resource
     * name, not the Kubernetes object's); a RegExp matches it instead.
     */
    name: string | RegExp;
    /** Its type token, e.g. "kubernetes:core/v1:Namespace"; any type when left out. */
    type?: string;
    /** How it drifted: "changed" (op update) or "deleted" (outside Pulumi); either when left out. */
    drift?: "changed" | "deleted";
    /**
     * Property paths the report must name for it, as the engine names them,
     * e.g. `metadata.labels["pod-security.kubernetes.io/enforce"]`; when left
     * out, the report must still say what differs (it always does).
     */
    properties?: string[];
}

/** One row of the Drift tab's table, as the page shows it. */
export interface DriftRow {
    urn: string;
    name: string;
    type: string;
    /** "changed" or "deleted". */
    drift: string;
    /** What differs, in the page's words, e.g. `metadata.labels["team"] changed`. */
    differs: string;
}

export interface DriftShown {
    /** The full-page screenshot of the Drift tab, under test-results/. */
    screenshot: string;
    /** The report's summary line, e.g. "1 resource(s) drifted checked 10:02:11 by run 3f2a9c1e (schedule) · checked on cron ...". */
    summary: string;
    /** Every drifted resource the page lists, the expected ones among them. */
    rows: DriftRow[];
}

export interface ShowDriftOptions {
    /** The deployer's base URL, e.g. `Service.url` (test/runtime/helpers.ts). */
    url: string;
    /** A token that may read the stack, e.g. `Service.adminToken`; the console is signed in with it. */
    token: string;
    /** The stack whose drift report is shown. */
    stack: string;
    /** Resources that must be listed as drifted, each with its diff. */
    expect: ExpectedDrift[];
    /** Screenshot name: test-results/<screenshot>.png. Default `console-drift-<stack>`. */
    screenshot?: string;
    /** What queued the reported check, when it matters: "schedule" for a scheduled check. */
    trigger?: "schedule" | "request" | "remediation";
    /** A browser to sign in with; by default one is started and closed again. */
    browser?: ConsoleBrowser;
    /** How long to wait for the report to show the expected resources (reloading the page meanwhile). Default 120 s. */
    timeoutMs?: number;
}

async function readReport(page: Page): Promise<{ summary: string; rows: DriftRow[] } | undefined> {
    return (await page.evaluate(`(() => {
        const summary = document.querySelector("#drift-summary");
        if (!summary) return undefined;
        const rows = [...document.querySelectorAll("#drift-table tbody tr[data-urn]")].map((tr) => {
            const cells = [...tr.querySelectorAll("td")].map((td) => td.textContent.trim());
            return { urn: tr.dataset.urn, name: tr.dataset.name, type: tr.dataset.type, drift: cells[0], differs: cells[2] };
        });
        return { summary: summary.textContent.trim(), rows };
    })()`)) as { summary: string; rows: DriftRow[] } | undefined;
}

/** Why `row` is not the expected resource, or null when it is. */
function mismatch(row: DriftRow, want: ExpectedDrift): string | null {
    const nameMatches = typeof want.name === "string" ? row.name === want.name : want.name.test(row.name);
    if (!nameMatches || (want.type && row.type !== want.type)) return "not it";
    if (want.drift && row.drift !== want.drift) return `listed as ${row.drift}, expected ${want.drift}`;
    const missing = (want.properties ?? []).filter((p) => !row.differs.includes(p));
    if (missing.length) return `its diff "${row.differs}" does not name ${missing.join(", ")}`;
    if (!row.differs) return "listed without saying what differs";
    return null;
}

/** What is wrong with what the page shows, or null when every expected resource is listed with its diff. */
function check(shown: { summary: string; rows: DriftRow[] } | undefined, options: ShowDriftOptions): string | null {
    if (!shown) return "the Drift tab shows no report yet";
    if (/^(No drift report yet|This stack renders)/.test(shown.summary)) return `the Drift tab says: ${shown.summary}`;
    if (/the last check/.test(shown.summary)) return `the last drift check did not succeed: ${shown.summary}`;
    if (options.trigger && !shown.summary.includes(`(${options.trigger})`)) return `the report is not of a ${options.trigger} check: ${shown.summary}`;
    const problems: string[] = [];
    for (const want of options.expect) {
        const candidates = shown.rows.map((r) => mismatch(r, want));
        if (candidates.includes(null)) continue;
        const close = candidates.filter((c) => c !== "not it");
        problems.push(`${want.type ?? "a resource"} named ${String(want.name)}: ${close.length ? close.join("; ") : "not listed"}`);
    }
    if (problems.length === 0) return null;
    const listed = shown.rows.map((r) => `${r.drift} ${r.type} ${r.name}: ${r.differs}`).join("\n  ");
    return `${problems.join("\n")}\nthe page lists ${shown.rows.length} drifted resource(s):\n  ${listed}\nsummary: ${shown.summary}`;
}

/**
 * Opens the console (Debian's chromium) on `url`, signs in with `token`,
 * goes to the stack's Drift tab (`#/stacks/<stack>/drift`, the latest drift
 * report, GET /v1/stacks/{stack}/drift), checks that every resource in
 * `expect` is listed with what differs on it, and saves a full-page
 * screenshot under test-results/. Throws, saying what the page shows
 * instead, when a resource is missing after `timeoutMs` (the page is
 * reloaded while it waits), when the last check failed, or when the
 * console raised a script error.
 *
 * Call it once the drift check has ended, e.g. in the cluster tier after
 * the scheduled check reported the drift made with kubectl:
 *
 *     const shown = await showDriftInConsole({
 *         url: svc.url, token: svc.adminToken, stack, trigger: "schedule",
 *         expect: [{ type: "kubernetes:core/v1:ConfigMap", name: "x1agent-runtime-config", drift: "deleted" }],
 *     });
 *     console.log(`drift in the console: ${shown.screenshot}`);
 */
export async function showDriftInConsole(options: ShowDriftOptions): Promise<DriftShown> {
    const browser = options.browser ?? (await openBrowser());
    const timeoutMs = options.timeoutMs ?? 120_000;
    try {
        const page = await browser.signedIn(options.url, options.token);
        await page.goto(`${options.url}/console/#/stacks/${encodeURIComponent(options.stack)}/drift`);
        const end = Date.now() + timeoutMs;
        let shown: { summary: string; rows: DriftRow[] } | undefined;
        let problem: string | null = "the Drift tab was not read";
        for (;;) {
            // The tab reads the report once: wait for it, and reload when it does not show the drift yet.
            await page
                .locator("#drift-summary")
                .waitFor({ timeout: Math.max(1_000, Math.min(30_000, end - Date.now())) })
                .catch(() => undefined);
            shown = await readReport(page);
            problem = check(shown, options);
            if (problem === null || Date.now() > end || /did not succeed/.test(problem)) break;
            await new Promise((r) => setTimeout(r, 2_000));
            await page.reload();
        }
        const screenshot = await browser.shot(page, options.screenshot ?? `console-drift-${options.stack}`);
        if (problem !== null) throw new Error(`stack ${options.stack}'s drift report in the console (screenshot ${screenshot}): ${problem}`);
        const errors = pageErrors(page);
        if (errors.length) throw new Error(`the console raised script errors on the Drift tab (screenshot ${screenshot}): ${errors.join("; ")}`);
        await page.context().close();
        return { screenshot, summary: shown!.summary, rows: shown!.rows };
    } finally {
        if (!options.browser) await browser.close();
    }
}
