/**
 * Seeing drift in the console (Debian's chromium, playwright-core), on the
 * real API: an operator starts a drift check from the stack page; the run
 * page, the Drift tab (through showDriftInConsole, the function the cluster
 * tier calls too), the stack's header and the stack list show what it found.
 *
 * Simulated, and why: the drift check's finding is injected. A drift check
 * needs a live cluster, which this tier has not; so the queue is not worked
 * (runWorker: false) and the test ends the check itself. What it writes is
 * what the worker would: the engine events a `refresh --preview-only` emits
 * for a Workspace namespace whose Pod Security label was changed with
 * kubectl (a refresh step, then its result `update` with the property path
 * the Kubernetes provider names, inverted as the engine frames a refresh;
 * no top-level keys: that provider gives paths only), projected and digested
 * by the deployer's own code (projectEvent, EventDigest, EventRecorder), and
 * the run's row as the worker finishes it. Everything from that row on (the
 * drift report route, the run's SSE stream, the console) is the real thing.
 * The real finding, made with kubectl on the local cluster and found by the
 * deployer's scheduled drift check, is shown in the console by
 * test/cluster/platform.test.ts with the same function.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventsRepository } from "../../runtime/deployer/store/events";
import { EventDigest, EventRecorder, projectEvent } from "../../runtime/deployer/worker/events";
import { type ConsoleBrowser, openBrowser, pageErrors } from "./browser";
import { showDriftInConsole } from "./console-drift";
import { call, pointAtCluster, type Service, startService, tempStackNames } from "./helpers";

/** Polls what the page shows until it matches: a busy machine may take a while. */
const poll = <T>(fn: () => T | Promise<T>, options: { timeout?: number } = {}) => expect.poll(fn, { timeout: 60_000, ...options });

/** The label the drift changes: the workspace's Pod Security level, set to `restricted` by the program. */
const label = 'metadata.labels["pod-security.kubernetes.io/enforce"]';

describe("drift in the deployer console (a drift check's finding injected: no cluster in this tier)", () => {
    let svc: Service;
    let browser: ConsoleBrowser;
    let operator: string;
    const [stack] = tempStackNames("uidr", 1) as [string];
    const urn = `urn:pulumi:${stack}::x1agent-platform::x1agent:index:Platform$x1agent:workspaces:Workspaces$x1agent:workspaces:Workspace$kubernetes:core/v1:Namespace::x1agent-workspaces-demo-namespace`;

    beforeAll(async () => {
        svc = await startService({ database: { kind: "embedded" }, runWorker: false });
        const created = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        // Named a cluster: drift checks are offered (the check itself never reaches it here).
        await pointAtCluster(svc.url, svc.adminToken, stack, { kubeContext: "x1agent-local" });
        operator = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "ops-operator", teams: { ops: "operator" } } })).body
            .token as string;
        browser = await openBrowser();
    });

    afterAll(async () => {
        await browser?.close();
        await svc?.close();
    });

    /**
     * Ends the queued check as the worker would after `pulumi refresh --preview-only` read the namespace with
     * `pod-security.kubernetes.io/enforce=privileged` (set with kubectl; the program says `restricted`).
     */
    async function endCheckWithDrift(runId: string): Promise<void> {
        const metadata = { urn, type: "kubernetes:core/v1:Namespace", provider: "", diffs: [], keys: [] };
        const events = [
            { sequence: 1, timestamp: 0, preludeEvent: { config: {} } },
            // Before it reads the object the engine announces a refresh step; its result carries the diff.
            { sequence: 2, timestamp: 0, resourcePreEvent: { metadata: { ...metadata, op: "refresh" }, planning: true } },
            {
                sequence: 3,
                timestamp: 0,
                resOutputsEvent: {
                    metadata: { ...metadata, op: "update", detailedDiff: { [label]: { diffKind: "update", inputDiff: true } } },
                    planning: true,
                },
            },
            { sequence: 4, timestamp: 0, summaryEvent: { resourceChanges: { update: 1, same: 61 }, durationSeconds: 9, maybeCorrupt: false, policyPacks: {} } },
        ] as unknown as EngineEvent[];
        const digest = new EventDigest();
        const recorder = new EventRecorder(new EventsRepository(svc.deployer.database.db), runId, 0, () => svc.deployer.bus.changed(runId), svc.deployer.log);
        const started = new Date();
        await svc.deployer.database.db.updateTable("runs").set({ status: "running", started_at: started }).where("id", "=", runId).execute();
        svc.deployer.bus.changed(runId);
        for (const e of events) {
            const p = projectEvent(e);
            if (!p) continue;
            recorder.push(p.kind, digest.add(p.kind, p.data, "drift"));
        }
        await recorder.flush();
        await svc.deployer.database.db
            .updateTable("runs")
            .set({
                status: "succeeded",
                finished_at: new Date(),
                counts_json: JSON.stringify({ create: 0, update: 1, same: 61, delete: 0, replace: 0 }),
                changes_json: JSON.stringify(digest.changes),
                drift_json: JSON.stringify(digest.drift),
                policy_json: JSON.stringify({ applied: true, pack: svc.paths.policyPackDir, results: [], mandatory: 0, advisory: 0 }),
                event_count: recorder.count,
            })
            .where("id", "=", runId)
            .execute();
        svc.deployer.bus.changed(runId);
        // What the worker's digest made of those events: the shape the drift report serves.
        expect(digest.changes).toEqual([]);
        expect(digest.drift).toEqual([
            {
                op: "update",
                type: "kubernetes:core/v1:Namespace",
                name: "x1agent-workspaces-demo-namespace",
                urn,
                diffs: [],
                detailedDiff: { [label]: "update" },
            },
        ]);
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
        // The run page names the changed label (the engine gave a path, no top-level key), and no policy results for a check.
        expect(await page.locator("#diff tbody tr").allTextContents()).toEqual([
            `changedkubernetes:core/v1:Namespace x1agent-workspaces-demo-namespace${label} changed`,
        ]);
        expect(await page.textContent("#policy-summary")).toMatch(/^the policy pack checks previews and ups/);
        // The live log says what the check found, in the CLI's words.
        await poll(() => page.locator("#log > div").allTextContents()).toEqual([
            "engine started",
            `~ drift: kubernetes:core/v1:Namespace x1agent-workspaces-demo-namespace changed outside Pulumi (${label} changed)`,
            "summary: drift in 1 resource(s): 1 changed, 0 deleted outside Pulumi; 61 unchanged, in 9 s",
            "run succeeded",
        ]);
        // The header says it too.
        await poll(() => page.textContent("#stack-drift")).toMatch(/^Drift:1 drifted/);
        const runShot = await browser.shot(page, "console-drift-run");
        expect(pageErrors(page)).toEqual([]);

        // The Drift tab, as the cluster tier shows its real finding.
        const shown = await showDriftInConsole({
            url: svc.url,
            token: operator,
            stack,
            browser,
            screenshot: "console-drift",
            trigger: "request",
            expect: [{ type: "kubernetes:core/v1:Namespace", name: "x1agent-workspaces-demo-namespace", drift: "changed", properties: [label] }],
        });
        expect(shown.summary).toMatch(/^1 resource\(s\) drifted checked .* by run [0-9a-f]{8} \(request\) · no drift schedule$/);
        expect(shown.rows).toEqual([
            { urn, name: "x1agent-workspaces-demo-namespace", type: "kubernetes:core/v1:Namespace", drift: "changed", differs: `${label} changed` },
        ]);
        // A resource the report does not list fails the check, saying what the page shows.
        await expect(
            showDriftInConsole({
                url: svc.url,
                token: operator,
                stack,
                browser,
                screenshot: "console-drift-missing",
                timeoutMs: 1_000,
                expect: [{ name: "nope" }],
            }),
        ).rejects.toThrow(/a resource named nope: not listed\nthe page lists 1 drifted resource\(s\):\n {2}changed kubernetes:core\/v1:Namespace/);

        await page.getByRole("link", { name: "Stacks", exact: true }).click();
        await poll(() => cell(page, 6)).toMatch(/^1 drifted/);
        expect(pageErrors(page)).toEqual([]);
        console.log(`[console] drift: run ${runShot}, Drift tab ${shown.screenshot}`);
    });
});
