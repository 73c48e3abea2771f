/**
 * Seeing drift in the console (Debian's chromium, playwright-core), on the
 * real API: an operator starts a drift check from the stack page, the run
 * page, the Drift tab, the stack's header and the stack list show what it
 * found.
 *
 * Simulated, and why: a drift check needs a live cluster, which this tier
 * has not; so the queue is not worked (runWorker: false) and the test ends
 * the check itself, writing to the run's row what the engine's refresh
 * records (a changed label on a Namespace), as the worker would. Everything
 * from that row on (the drift report route, the run's SSE stream, the
 * console) is the real thing. The check against a real cluster, with the
 * same console steps, is test/cluster/console-drift.browser.test.ts.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleBrowser, openBrowser, pageErrors } from "./browser";
import { call, type Service, startService, tempStackNames } from "./helpers";

/** Polls what the page shows until it matches: a busy machine may take a while. */
const poll = <T>(fn: () => T | Promise<T>, options: { timeout?: number } = {}) => expect.poll(fn, { timeout: 60_000, ...options });

describe("drift in the deployer console (a drift check's finding seeded: no cluster in this tier)", () => {
    let svc: Service;
    let browser: ConsoleBrowser;
    let operator: string;
    const [stack] = tempStackNames("uidr", 1) as [string];

    beforeAll(async () => {
        svc = await startService({ database: { kind: "embedded" }, runWorker: false });
        const created = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        // Named a cluster: drift checks are offered (the check itself never reaches it here).
        const detail = created.body;
        const edit = await call(svc.url, "PUT", `/v1/stacks/${stack}/config`, {
            token: svc.adminToken,
            body: { config: { ...detail.config, cluster: { ...detail.config.cluster, kubeContext: "x1agent-local" } }, revision: detail.revision },
        });
        expect(edit.status, JSON.stringify(edit.body)).toBe(200);
        operator = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "ops-operator", teams: { ops: "operator" } } })).body
            .token as string;
        browser = await openBrowser();
    });

    afterAll(async () => {
        await browser?.close();
        await svc?.close();
    });

    /** Ends the queued check as the worker would after `pulumi refresh --preview-only` found a label added out of band. */
    async function endCheckWithDrift(runId: string): Promise<void> {
        const namespace = {
            op: "update",
            type: "kubernetes:core/v1:Namespace",
            name: "x1agent-workspaces-demo-namespace",
            urn: `urn:pulumi:${stack}::x1agent-platform::x1agent:index:Platform$kubernetes:core/v1:Namespace::x1agent-workspaces-demo-namespace`,
            diffs: ["metadata"],
            detailedDiff: { "metadata.labels.x1-console-test": "add" },
        };
        const now = new Date();
        await svc.deployer.database.db
            .updateTable("runs")
            .set({
                status: "succeeded",
                started_at: now,
                finished_at: now,
                drift_json: JSON.stringify([namespace]),
                changes_json: "[]",
                counts_json: JSON.stringify({ create: 0, update: 0, same: 62, delete: 0, replace: 0 }),
            })
            .where("id", "=", runId)
            .execute();
        svc.deployer.bus.changed(runId);
    }

    const cell = (page: Page, n: number) => page.textContent(`#stack-table tr[data-stack="${stack}"] td:nth-child(${n})`);

    it("shows what a drift check found: on the run, the Drift tab and the stack list", async () => {
        const page = await browser.signedIn(svc.url, operator);
        await page.goto(`${svc.url}/console/#/stacks/${stack}/drift`);
        await poll(() => page.textContent("#drift-summary")).toMatch(/^No drift report yet/);
        await page.getByRole("button", { name: "Check drift" }).click();
        await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        const runId = page.url().split("/runs/")[1]!;
        const run = (await call(svc.url, "GET", `/v1/runs/${runId}`, { token: operator })).body.run;
        expect(run).toMatchObject({ operation: "drift", status: "queued", requestedBy: "token:ops-operator" });
        await poll(() => page.textContent("#run-title .badge")).toBe("queued");

        await endCheckWithDrift(runId);
        await poll(() => page.textContent("#run-title .badge")).toBe("succeeded");
        expect(await page.textContent("#run-outcome")).toBe("Drift: 1 resource(s) differ from the stack's state");
        expect(await page.textContent("#diff-title")).toBe("Drift");

        await page.getByRole("link", { name: "Drift", exact: true }).click();
        await poll(() => page.textContent("#drift-summary")).toMatch(/^1 resource\(s\) drifted checked .* by run [0-9a-f]{8} \(request\) · no drift schedule$/);
        const rows = await page.locator("#drift-table tbody tr").allTextContents();
        expect(rows).toEqual(["updatekubernetes:core/v1:Namespace x1agent-workspaces-demo-namespacemetadata.labels.x1-console-test (add)"]);
        // The stack's header says it too.
        await poll(() => page.textContent("#stack-drift")).toMatch(/^Drift:1 drifted/);
        const shot = await browser.shot(page, "console-drift");

        await page.getByRole("link", { name: "Stacks", exact: true }).click();
        await poll(() => cell(page, 6)).toMatch(/^1 drifted/);
        expect(pageErrors(page)).toEqual([]);
        console.log(`[console] drift: ${shot}`);
    });
});
