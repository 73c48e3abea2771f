/**
 * What the console reads from the API beyond the basics, on both database
 * backends: the runs list filtered by operation and status and paged with
 * `before`, a stack's last `up` apart from its last run, whether it applies
 * to a cluster; and the console's own files, served with a strict CSP. The
 * queue is not worked (runWorker: false): no engine run starts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookEvents } from "../../runtime/deployer/http/schemas";
import { backendNames, call, freshDatabase, type Service, startService, tempStackNames } from "./helpers";

describe.each(backendNames)("the API the console reads (%s database)", (backend) => {
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    const [stack] = tempStackNames("capi", 1) as [string];
    const ids: string[] = [];

    beforeAll(async () => {
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({ database: db.options, runWorker: false });
        const created = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        expect(created.status).toBe(201);
        // Oldest first: up, preview, preview, up, preview.
        for (const operation of ["up", "preview", "preview", "up", "preview"]) {
            const r = await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token: svc.adminToken, body: { operation } });
            expect(r.status).toBe(202);
            ids.push(r.body.run.id);
        }
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
    });

    const list = async (q: string) => {
        const r = await call(svc.url, "GET", `/v1/runs?stack=${stack}&${q}`, { token: svc.adminToken });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        return (r.body.runs as { id: string; operation: string }[]).map((x) => x.id);
    };

    it("filters runs by operation and pages them with before=<run id>", async () => {
        expect(await list("operation=up")).toEqual([ids[3], ids[0]]);
        expect(await list("operation=preview&status=queued")).toEqual([ids[4], ids[2], ids[1]]);
        expect(await list("limit=2")).toEqual([ids[4], ids[3]]);
        expect(await list(`limit=2&before=${ids[3]}`)).toEqual([ids[2], ids[1]]);
        expect(await list(`limit=2&before=${ids[1]}`)).toEqual([ids[0]]);
        expect(await list(`operation=preview&before=${ids[4]}`)).toEqual([ids[2], ids[1]]);
        const bad = await call(svc.url, "GET", "/v1/runs?before=7&operation=deploy", { token: svc.adminToken });
        expect(bad.status).toBe(400);
        expect(bad.body.message).toMatch(/before: must be a run id/);
        expect(bad.body.message).toMatch(/operation: must be one of preview, up, refresh, drift, destroy, preview-destroy/);
    });

    it("shows a stack's last up apart from its last run, and whether it applies to a cluster", async () => {
        const { body } = await call(svc.url, "GET", "/v1/stacks", { token: svc.adminToken });
        const summary = body.stacks.find((s: { name: string }) => s.name === stack);
        expect(summary.lastRun.id).toBe(ids[4]);
        expect(summary.lastUp.id).toBe(ids[3]);
        expect(summary.lastUp.operation).toBe("up");
        expect(summary.appliesToCluster).toBe(false);
        const detail = await call(svc.url, "GET", `/v1/stacks/${stack}`, { token: svc.adminToken });
        expect(detail.body.lastUp.id).toBe(ids[3]);
        expect(detail.body.lock.queuedRuns).toBe(5);
    });

    it("lists the events a webhook may receive with the webhooks, the list the console offers instead of a copy", async () => {
        const listed = await call(svc.url, "GET", "/v1/webhooks", { token: svc.adminToken });
        expect(listed.status, JSON.stringify(listed.body)).toBe(200);
        expect(listed.body.events).toEqual([...webhookEvents]);
        // Exactly what POST /v1/webhooks accepts: every listed event, and nothing else.
        const all = await call(svc.url, "POST", "/v1/webhooks", {
            token: svc.adminToken,
            body: { team: "ops", url: "https://hooks.example.com/all", events: listed.body.events },
        });
        expect(all.status, JSON.stringify(all.body)).toBe(201);
        expect(all.body.events).toEqual(listed.body.events);
        const bad = await call(svc.url, "POST", "/v1/webhooks", {
            token: svc.adminToken,
            body: { team: "ops", url: "https://hooks.example.com/x", events: ["run.started"] },
        });
        expect(bad.status).toBe(400);
        expect(bad.body.message).toContain(`must be one of ${listed.body.events.join(", ")}`);
        // The console's webhook page names no event itself: it offers the API's list.
        const page = await (await fetch(`${svc.url}/console/webhooks.js`)).text();
        for (const event of webhookEvents) expect(page, event).not.toContain(`"${event}"`);
    });

    it("serves the console's files with a strict content security policy, and nothing else from its folder", async () => {
        for (const [file, type] of [
            ["", "text/html"],
            ["index.html", "text/html"],
            ["app.js", "text/javascript"],
            ["styles.css", "text/css"],
        ] as const) {
            const res = await fetch(`${svc.url}/console/${file}`);
            expect(res.status, file).toBe(200);
            expect(res.headers.get("content-type")).toContain(type);
            expect(res.headers.get("content-security-policy")).toMatch(/script-src 'self';/);
            expect(res.headers.get("content-security-policy")).not.toContain("unsafe-inline");
        }
        for (const file of ["missing.js", "..%2Fhttp%2Fapp.ts", "README.md"]) {
            expect((await fetch(`${svc.url}/console/${file}`)).status, file).toBe(404);
        }
        const root = await fetch(`${svc.url}/`, { redirect: "manual" });
        expect(root.headers.get("location")).toBe("/console/");
    });
});
