/**
 * The deployer over HTTP against real engine runs of temp copies of the
 * `render` stack (an isolated state backend for this file), on both database
 * backends: runs on one stack serialize, runs on different stacks go in
 * parallel up to the bound, events stream live and replay after the end,
 * cancel stops the engine cleanly, and a workspace is applied only after
 * its preview is approved. Prints the figures the issue asks for.
 */
import { existsSync, readFileSync } from "node:fs";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { backendNames, call, freshDatabase, readSse, type Service, type SseMessage, startService, tempStackNames, waitFor, waitForRun } from "./helpers";

const passphrase = "x1-runtime-tier-passphrase";
let sandbox: EngineSandbox;
beforeAll(async () => {
    sandbox = await engineSandbox("runtime-runs");
    process.env.PULUMI_CONFIG_PASSPHRASE = passphrase;
});
afterAll(() => sandbox?.cleanup());

describe.each(backendNames)("deployer runs through the real engine (%s database)", (backend) => {
    let svc: Service;
    let token: string;
    let approver: string;
    let opsAdmin: string;
    let dbCleanup: () => Promise<void>;
    const stacks = tempStackNames(backend === "embedded" ? "e" : "p", 3);
    const [a, b, c] = stacks as [string, string, string];
    let a1Stream: Promise<SseMessage[]>;
    let a1Id: string;

    beforeAll(async () => {
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({ database: db.options, maxConcurrentRuns: 2, pollIntervalMs: 500 });
        for (const name of stacks) {
            const r = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name, from: "render", team: "ops" } });
            expect(r.status, JSON.stringify(r.body)).toBe(201);
        }
        token = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "ops-portal", teams: ["ops"] } })).body.token;
        approver = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "ops-lead", teams: { ops: "approver" } } })).body.token;
        opsAdmin = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "ops-admin", teams: { ops: "admin" } } })).body.token;
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
    });

    it("serializes runs on one stack and runs different stacks in parallel, never above the bound", async () => {
        const post = (stack: string) => call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token, body: { operation: "preview" } });
        const requested = Date.now();
        const first = await post(a);
        a1Id = first.body.run.id;
        a1Stream = readSse(svc.url, token, a1Id);
        const [second, onB, onC] = await Promise.all([post(a), post(b), post(c)]);
        for (const r of [first, second, onB, onC]) expect(r.status).toBe(202);
        // The caller sees its place: behind the first run on the same stack.
        expect(second.body.run.queue.position).toBe(2);
        expect(second.body.run.queue.waitingFor).toContain(a1Id);

        let peak = 0;
        let peakPerStack = 0;
        const ids = [first, second, onB, onC].map((r) => r.body.run.id as string);
        const finals = await waitFor(
            "four previews to end",
            async () => {
                const { body } = await call(svc.url, "GET", "/v1/runs?limit=50", { token });
                const mine = body.runs.filter((r: any) => ids.includes(r.id));
                const running = mine.filter((r: any) => r.status === "running");
                peak = Math.max(peak, running.length);
                peakPerStack = Math.max(peakPerStack, ...[a, b, c].map((s) => running.filter((r: any) => r.stack === s).length));
                return mine.every((r: any) => ["succeeded", "failed", "cancelled", "interrupted", "timed_out"].includes(r.status)) ? mine : undefined;
            },
            900_000,
            300,
        );
        const byId = new Map(finals.map((r: any) => [r.id, r]));
        const [r1, r2, rb, rc] = ids.map((id) => byId.get(id)) as any[];
        for (const r of [r1, r2, rb, rc]) {
            expect(r.status, `${r.stack}: ${r.error}`).toBe("succeeded");
            expect(r.counts.create).toBeGreaterThan(5);
            expect(r.error ?? "").not.toMatch(/locked|concurrent|conflict/i);
        }
        // One stack: the second run started only after the first finished.
        expect(Date.parse(r2.startedAt)).toBeGreaterThanOrEqual(Date.parse(r1.finishedAt));
        // Different stacks overlapped, but never more than the bound of 2.
        expect(peak).toBe(2);
        expect(peakPerStack).toBe(1);
        // The same from the run records alone: at each run's start, how many runs were in progress.
        const spans = [r1, r2, rb, rc].map((r) => [Date.parse(r.startedAt), Date.parse(r.finishedAt)] as const);
        const recordedPeak = Math.max(...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length));
        expect(recordedPeak).toBe(2);

        const events = await a1Stream;
        const firstEngine = events.find((m) => m.event === "engine");
        const wall = ((Date.parse(rc.finishedAt) - requested) / 1000).toFixed(1);
        console.log(
            `[runtime tier] ${backend}: 4 previews on 3 stacks in ${wall}s; peak concurrency ${peak} (bound 2), per stack ${peakPerStack}; ` +
                `request to first engine event: ${r1.firstEventMs} ms (recorded), ${firstEngine?.at ?? "?"} ms after the SSE stream opened; ` +
                `run durations ${[r1, r2, rb, rc].map((r) => ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)).join("/")}s`,
        );
    });

    it("streams a run's engine events live and replays the same events after it ended", async () => {
        const live = await a1Stream;
        const liveEngine = live.filter((m) => m.event === "engine");
        expect(live[0]!.event).toBe("run");
        expect(live.at(-1)!.event).toBe("end");
        expect(live.at(-1)!.data.status).toBe("succeeded");
        const kinds = new Set(liveEngine.map((m) => m.data.kind));
        expect([...kinds]).toEqual(expect.arrayContaining(["prelude", "resource-pre", "summary"]));
        expect(liveEngine.some((m) => m.data.kind === "resource-pre" && m.data.data.type === "kubernetes:core/v1:Namespace")).toBe(true);

        const replay = await readSse(svc.url, token, a1Id);
        expect(replay.filter((m) => m.event === "engine").map((m) => m.data.seq)).toEqual(liveEngine.map((m) => m.data.seq));
        const resumed = await readSse(svc.url, token, a1Id, { "last-event-id": String(liveEngine[4]!.data.seq) });
        expect(resumed.filter((m) => m.event === "engine")[0]!.data.seq).toBe(liveEngine[5]!.data.seq);
        const json = await call(svc.url, "GET", `/v1/runs/${a1Id}/events?after=0`, { token });
        expect(json.body.events).toHaveLength(liveEngine.length);
        // No secret reaches events or runs: not the state passphrase, not a token.
        const everything = JSON.stringify([live, json.body]);
        expect(everything).not.toContain(passphrase);
        expect(everything).not.toContain(token);
    });

    it("records what a policy-failed up changed, and says the stack is partly applied", async () => {
        // Tier 1 without etcd encryption passes the schema and fails a mandatory stack policy, checked after the resources.
        const before = (await call(svc.url, "GET", `/v1/stacks/${a}`, { token })).body;
        const edit = await call(svc.url, "PUT", `/v1/stacks/${a}/config`, {
            token,
            body: { config: { ...before.config, etcdEncryption: { enabled: false } }, revision: before.revision },
        });
        expect(edit.status, JSON.stringify(edit.body)).toBe(200);
        const up = await call(svc.url, "POST", `/v1/stacks/${a}/runs`, { token, body: { operation: "up" } });
        const done = await waitForRun(svc.url, token, up.body.run.id);
        expect(done.status).toBe("failed");
        expect(done.counts.create).toBeGreaterThan(5);
        expect(done.message).toBe(
            `the stack is partly applied: the engine ${done.counts.create} created, ${done.counts.update} updated, ${done.counts.replace} replaced, ${done.counts.delete} deleted before the up stopped; fix the cause in the error, then run a preview to see what is left and up again`,
        );
        // Each cause once, naming where it was found.
        const lines = (done.error as string).split("\n");
        expect(lines[0]).toMatch(/^policy violations \(\d+ mandatory\):$/);
        expect(lines.filter((l) => l.startsWith("- tier1-requires-etcd-encryption: "))).toHaveLength(1);
        expect(new Set(lines).size).toBe(lines.length);
        expect(lines.slice(1).every((l) => /\(on [^)]+\)$/.test(l))).toBe(true);
        console.log(`[runtime tier] ${backend}: policy-failed up: counts ${JSON.stringify(done.counts)}; error: ${done.error}`);
    });

    it("cancels a running up cleanly: the run says so and the stack is left unlocked", async () => {
        const up = await call(svc.url, "POST", `/v1/stacks/${b}/runs`, { token, body: { operation: "up" } });
        const id = up.body.run.id;
        await waitFor(
            "the up to start its engine",
            async () => (await call(svc.url, "GET", `/v1/runs/${id}`, { token })).body.run.eventCount > 0,
            300_000,
            100,
        );
        const cancel = await call(svc.url, "POST", `/v1/runs/${id}/cancel`, { token });
        expect(cancel.status).toBe(200);
        const done = await waitForRun(svc.url, token, id);
        expect(done.status).toBe("cancelled");
        expect(done.error).toMatch(/cancelled by token:ops-portal; the engine stopped cleanly/);
        const stack = await call(svc.url, "GET", `/v1/stacks/${b}`, { token });
        expect(stack.body.lock).toEqual({ runningRunId: null, queuedRuns: 0, engine: { inspectable: true, holders: [] } });
        const after = await call(svc.url, "POST", `/v1/stacks/${b}/runs`, { token, body: { operation: "preview" } });
        expect((await waitForRun(svc.url, token, after.body.run.id)).status).toBe("succeeded");
    });

    it("times a run out by cancelling the engine cleanly", async () => {
        // Through the library: the HTTP schema's floor (10 s) is longer than this test wants to wait.
        const caller = { principal: { subject: "token:ops-portal", roles: { ops: "operator" as const }, admin: false } };
        const { run } = await svc.deployer.createRun(caller, b, { operation: "up", timeoutSeconds: 3 });
        const done = await waitForRun(svc.url, token, run.id);
        expect(done.status).toBe("timed_out");
        expect(done.error).toBe("timed out after 3s; the engine was cancelled cleanly and released the stack");
        const stack = await call(svc.url, "GET", `/v1/stacks/${b}`, { token });
        expect(stack.body.lock.engine.holders).toEqual([]);
    });

    it("applies a new workspace only after its preview is approved, keeping the stack file's comments", async () => {
        const file = svc.stackFile(c);
        const proposed = await call(svc.url, "POST", `/v1/stacks/${c}/workspaces`, { token, body: { id: "ml", team: "ops" } });
        expect(proposed.status).toBe(202);
        const preview = await waitForRun(svc.url, token, proposed.body.run.id);
        expect(preview.status, preview.error).toBe("succeeded");
        expect(preview.changes).toEqual(
            expect.arrayContaining([expect.objectContaining({ op: "create", type: "kubernetes:core/v1:Namespace", name: expect.stringContaining("ml") })]),
        );
        expect(preview.policy).toMatchObject({ results: expect.any(Array) });
        expect(readFileSync(file, "utf8")).not.toMatch(/id: ml/);

        // A database failure during the approved up (simulated: a trigger refuses the first insert of engine events
        // once): the change is applied, the stack file says so, and the event writer recovers without losing an event.
        const db = svc.deployer.database.db;
        await sql`CREATE SEQUENCE x1_test_fail_once`.execute(db);
        await sql`CREATE FUNCTION x1_test_fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF nextval('x1_test_fail_once') = 1 THEN RAISE EXCEPTION 'simulated database failure'; END IF; RETURN NULL; END $$`.execute(db);
        await sql`CREATE TRIGGER x1_test_fail_once BEFORE INSERT ON run_events FOR EACH STATEMENT EXECUTE FUNCTION x1_test_fail_once()`.execute(db);
        // Another person approves: an approver of the team who is not the requester.
        const approved = await call(svc.url, "POST", `/v1/approvals/${proposed.body.approval.id}/approve`, { token: approver });
        expect(approved.status).toBe(202);
        expect(approved.body.approval).toMatchObject({ status: "approved", decidedBy: "token:ops-lead", runId: approved.body.run.id });
        const up = await waitForRun(svc.url, token, approved.body.run.id).finally(async () => {
            await sql`DROP TRIGGER x1_test_fail_once ON run_events`.execute(db);
            await sql`DROP FUNCTION x1_test_fail_once()`.execute(db);
            await sql`DROP SEQUENCE x1_test_fail_once`.execute(db);
        });
        expect(up.status, up.error).toBe("succeeded");
        const stored = (await call(svc.url, "GET", `/v1/runs/${up.id}/events?after=0`, { token })).body.events.map((e: any) => e.seq);
        expect(stored).toEqual(Array.from({ length: up.eventCount }, (_, i) => i + 1));
        expect(svc.log().some((l) => l.includes(up.id) && l.includes("storing engine events failed"))).toBe(true);
        expect(up.approvalId).toBe(proposed.body.approval.id);
        expect(up.configRevision).toBe(preview.configRevision);
        expect(up.message).toMatch(/config change applied: add workspace 'ml'/);
        const text = readFileSync(file, "utf8");
        expect(text).toMatch(/- id: ml\n\s+team: ops/);
        expect(text).toMatch(/# Taken as installed: no chart is fetched or rendered\./);
        const stack = await call(svc.url, "GET", `/v1/stacks/${c}`, { token });
        expect(stack.body.workspaces).toBe(2);
        expect(stack.body.outputs).toMatchObject({ tier: "kubernetes", storeName: "x1-local" });
        const again = await call(svc.url, "POST", `/v1/approvals/${proposed.body.approval.id}/approve`, { token: approver });
        expect(again.status).toBe(409);
        expect(again.body.message).toMatch(new RegExp(`is already approved: approved by token:ops-lead at \\S+; its run is ${up.id}$`));
    });

    it("deletes a stack only when asked explicitly: destroy, then remove state and file", async () => {
        const file = svc.stackFile(c);
        const unconfirmed = await call(svc.url, "DELETE", `/v1/stacks/${c}`, { token: opsAdmin });
        expect(unconfirmed.status).toBe(400);
        expect(unconfirmed.body.message).toMatch(new RegExp(`repeat its name as \\?confirm=${c}`));
        const del = await call(svc.url, "DELETE", `/v1/stacks/${c}?confirm=${c}`, { token: opsAdmin });
        expect(del.status).toBe(202);
        const done = await waitForRun(svc.url, token, del.body.run.id);
        expect(done.status, done.error).toBe("succeeded");
        expect(done.counts.delete).toBeGreaterThan(5);
        expect(done.message).toMatch(/destroyed and removed/);
        expect(existsSync(file)).toBe(false);
        expect((await call(svc.url, "GET", `/v1/stacks/${c}`, { token })).status).toBe(404);
    });
});
