/**
 * Pause, expiry and superseded ups over HTTP, on both database backends.
 * A paused stack (or deployer) keeps its runs queued with the reason in the
 * stack and in each run's queue place, while the worker keeps polling; the
 * team of another stack and non-admins are refused; a queued run older than
 * the configured age ends `expired` (audited); an up with `supersede` skips
 * the older queued plain ups (`superseded`). Then, through the real engine:
 * a pause while a run is live lets it finish and starts nothing new until
 * the pause is lifted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { backendNames, call, freshDatabase, type Service, startService, tempStackNames, twoTeams, waitFor, waitForRun } from "./helpers";

describe.each(backendNames)("pause, expiry and superseded ups (%s database)", (backend) => {
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    const [stackA, stackB] = tempStackNames(backend === "embedded" ? "pe" : "pp", 2) as [string, string];
    let teamA: string;
    let teamB: string;
    const run = (token: string, stack: string, body: Record<string, unknown>) => call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token, body });
    const runOf = async (id: string) => (await call(svc.url, "GET", `/v1/runs/${id}`, { token: svc.adminToken })).body.run;

    beforeAll(async () => {
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        // The worker runs (and polls every 200 ms): a paused stack's runs must stay queued anyway.
        svc = await startService({ database: db.options, pollIntervalMs: 200, queuedMaxAgeSeconds: 10 });
        ({ teamA, teamB } = await twoTeams(svc, [stackA, stackB], `pause-${backend}`));
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
    });

    it("keeps a paused stack's runs queued, says why on the stack and in the queue, and lets only its team pause it", async () => {
        const refused = await call(svc.url, "POST", `/v1/stacks/${stackA}/pause`, { token: teamB, body: { reason: "not mine" } });
        expect(refused.status).toBe(403);
        expect(refused.body.message).toMatch(new RegExp(`stack '${stackA}' belongs to team 'team-a'`));
        const empty = await call(svc.url, "POST", `/v1/stacks/${stackA}/pause`, { token: teamA, body: { reason: "  " } });
        expect(empty.status).toBe(400);
        expect(empty.body.message).toMatch(/body\.reason/);

        const paused = await call(svc.url, "POST", `/v1/stacks/${stackA}/pause`, { token: teamA, body: { reason: "change freeze until the release" } });
        expect(paused.status).toBe(200);
        expect(paused.body).toMatchObject({ stack: stackA, paused: { scope: "stack", reason: "change freeze until the release" }, runningRunId: null });
        expect(paused.body.paused.by).toMatch(/^token:a-pause-/);

        const queued = await run(teamA, stackA, { operation: "preview" });
        expect(queued.status).toBe(202);
        expect(queued.body.run.queue.waitingFor).toMatch(
            /the pause to be lifted: stack '.*' is paused \(by token:a-pause-.*: change freeze until the release\)/,
        );
        await new Promise((r) => setTimeout(r, 1500)); // seven polls of the worker
        expect((await runOf(queued.body.run.id)).status).toBe("queued");

        const detail = await call(svc.url, "GET", `/v1/stacks/${stackA}`, { token: teamA });
        expect(detail.body.paused).toMatchObject({ scope: "stack", reason: "change freeze until the release" });
        const other = await call(svc.url, "GET", `/v1/stacks/${stackB}`, { token: teamB });
        expect(other.body.paused).toBeNull();
        const listed = await call(svc.url, "GET", "/v1/stacks", { token: teamA });
        expect(listed.body.stacks.find((s: any) => s.name === stackA).paused.reason).toBe("change freeze until the release");

        expect((await call(svc.url, "POST", `/v1/runs/${queued.body.run.id}/cancel`, { token: teamA })).body.run.status).toBe("cancelled");
        const resumed = await call(svc.url, "DELETE", `/v1/stacks/${stackA}/pause`, { token: teamA });
        expect(resumed.body.paused).toBeNull();
        const again = await call(svc.url, "DELETE", `/v1/stacks/${stackA}/pause`, { token: teamA });
        expect(again.status).toBe(404);
        expect(again.body.message).toBe(`stack '${stackA}' is not paused`);
    });

    it("pauses the whole deployer for admins only, shown on every stack", async () => {
        const refused = await call(svc.url, "POST", "/v1/pause", { token: teamA, body: { reason: "mine" } });
        expect(refused.status).toBe(403);
        expect(refused.body.message).toMatch(/pause needs an admin token/);
        const paused = await call(svc.url, "POST", "/v1/pause", { token: svc.adminToken, body: { reason: "cluster upgrade 10:00-11:00 UTC" } });
        expect(paused.status).toBe(200);
        expect(paused.body.paused).toMatchObject({ scope: "deployer", reason: "cluster upgrade 10:00-11:00 UTC" });
        for (const [stack, token] of [
            [stackA, teamA],
            [stackB, teamB],
        ] as const) {
            expect((await call(svc.url, "GET", `/v1/stacks/${stack}`, { token })).body.paused).toMatchObject({
                scope: "deployer",
                reason: "cluster upgrade 10:00-11:00 UTC",
            });
        }
        const queued = await run(teamB, stackB, { operation: "preview" });
        expect(queued.body.run.queue.waitingFor).toMatch(/the pause to be lifted: the deployer is paused .*cluster upgrade/);
        await new Promise((r) => setTimeout(r, 1000));
        expect((await runOf(queued.body.run.id)).status).toBe("queued");
        await call(svc.url, "POST", `/v1/runs/${queued.body.run.id}/cancel`, { token: teamB });
        const audit = (await call(svc.url, "GET", "/v1/audit?limit=200", { token: svc.adminToken })).body.entries;
        expect(audit.find((e: any) => e.action === "pause" && e.target === "deployer")).toMatchObject({
            outcome: "ok",
            reason: "cluster upgrade 10:00-11:00 UTC",
        });
        expect(audit.find((e: any) => e.action === "pause" && e.target === "deployer" && e.outcome === "denied")).toBeDefined();
        // Stays paused for the next tests, so nothing they queue starts.
    });

    it("skips older queued plain ups when an up asks to supersede them", async () => {
        const bad = await run(teamA, stackA, { operation: "preview", supersede: true });
        expect(bad.status).toBe(400);
        expect(bad.body.message).toBe("supersede applies to an up only, not to a preview: leave it out");
        const u1 = (await run(teamA, stackA, { operation: "up" })).body.run.id;
        const u2 = (await run(teamA, stackA, { operation: "up" })).body.run.id;
        const preview = (await run(teamA, stackA, { operation: "preview" })).body.run.id;
        const u3 = await run(teamA, stackA, { operation: "up", supersede: true });
        expect(u3.status).toBe(202);
        const newest = u3.body.run.id;
        for (const id of [u1, u2]) {
            const r = await runOf(id);
            expect(r).toMatchObject({ status: "superseded", supersededBy: newest });
            expect(r.error).toMatch(new RegExp(`superseded by the newer up ${newest}`));
        }
        // Only ups are superseded: the preview keeps its place, the newest up is behind it.
        expect((await runOf(preview)).status).toBe("queued");
        expect((await runOf(newest)).queue.position).toBe(2);
        const audit = (await call(svc.url, "GET", "/v1/audit?limit=200", { token: svc.adminToken })).body.entries;
        expect(audit.filter((e: any) => e.action === "supersede").map((e: any) => e.target)).toEqual(expect.arrayContaining([`run:${u1}`, `run:${u2}`]));
    });

    it("expires runs queued longer than the configured age, and audits it", async () => {
        const queued = (await run(teamB, stackB, { operation: "preview" })).body.run.id;
        const expired = await waitFor(
            "the queued run to expire",
            async () => {
                const r = await runOf(queued);
                return r.status === "expired" ? r : undefined;
            },
            60_000,
            250,
        );
        expect(expired.error).toMatch(/queued for more than 10s without starting \(X1_DEPLOYER_QUEUED_MAX_AGE_SECONDS\): nothing was run/);
        expect(expired.startedAt).toBeNull();
        const audit = await waitFor("the expiry in the audit log", async () =>
            (await call(svc.url, "GET", "/v1/audit?limit=300", { token: svc.adminToken })).body.entries.find(
                (e: any) => e.action === "expire" && e.target === `run:${queued}`,
            ),
        );
        expect(audit).toMatchObject({ actor: "deployer", outcome: "ok" });
        expect(audit.reason).toMatch(new RegExp(`preview on stack '${stackB}' requested by token:b-pause-.* was queued for more than 10s`));
        // The runs the other tests left queued expire too; the deployer's pause is lifted on a clean queue.
        await waitFor(
            "every queued run to end",
            async () => (await call(svc.url, "GET", "/v1/runs?status=queued", { token: svc.adminToken })).body.runs.length === 0,
            60_000,
        );
        expect((await call(svc.url, "DELETE", "/v1/pause", { token: svc.adminToken })).body.paused).toBeNull();
    });
});

describe.each(backendNames)("a pause while a run is live, through the engine (%s database)", (backend) => {
    let sandbox: EngineSandbox;
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    const [stack] = tempStackNames(backend === "embedded" ? "le" : "lp", 1) as [string];

    beforeAll(async () => {
        sandbox = await engineSandbox(`runtime-pause-${backend}`);
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1-runtime-tier-passphrase";
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({ database: db.options, pollIntervalMs: 300 });
        const r = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        expect(r.status).toBe(201);
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
        sandbox?.cleanup();
    });

    it("lets the running run finish and starts nothing new until the pause is lifted", async () => {
        const token = svc.adminToken;
        const first = (await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token, body: { operation: "preview" } })).body.run.id;
        await waitFor("the first preview to start", async () => (await call(svc.url, "GET", `/v1/runs/${first}`, { token })).body.run.status === "running");
        const paused = await call(svc.url, "POST", `/v1/stacks/${stack}/pause`, { token, body: { reason: "investigating an alert" } });
        expect(paused.body).toMatchObject({ runningRunId: first, paused: { reason: "investigating an alert" } });
        const second = (await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token, body: { operation: "preview" } })).body.run.id;

        const done = await waitForRun(svc.url, token, first);
        expect(done.status, done.error).toBe("succeeded");
        const endedAt = Date.now();
        // The queue looks again every 300 ms: for 5 s after the first run, the second stays queued.
        while (Date.now() - endedAt < 5000) {
            const r = (await call(svc.url, "GET", `/v1/runs/${second}`, { token })).body.run;
            expect(r.status).toBe("queued");
            expect(r.queue.waitingFor).toMatch(/is paused .*investigating an alert/);
            await new Promise((res) => setTimeout(res, 500));
        }
        const resumedAt = Date.now();
        await call(svc.url, "DELETE", `/v1/stacks/${stack}/pause`, { token });
        const after = await waitForRun(svc.url, token, second);
        expect(after.status, after.error).toBe("succeeded");
        console.log(
            `[runtime tier] ${backend}: paused while run ${first} was live; it finished; the next waited until the pause was lifted, then started ${new Date(after.startedAt).getTime() - resumedAt} ms after it`,
        );
    });
});
