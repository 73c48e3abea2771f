/**
 * Scheduled drift detection over HTTP, on both database backends.
 *
 * Without the engine: a schedule that does not parse, never fires or fires
 * too often is a 422 naming `drift.cron`, its value and an example; a stack
 * that renders to a folder has no cluster to check; each due slot is
 * claimed once, with two replicas on one PostgreSQL racing for it (the
 * deployer is paused, so the checks stay queued and are cancelled as they
 * come: each slot queues its own).
 *
 * With the engine: a replica killed (SIGKILL) while it runs a scheduled
 * check leaves it `interrupted`, and the slot is not checked a second time.
 *
 * A scheduled check against a real cluster (an object changed with kubectl,
 * found by the check, put back by remediation) is not here yet: its first run
 * failed (the deployer's policy pack refuses the whole platform's cert-manager
 * controller, and the test read a ConfigMap key the runtime does not write).
 * The cluster tier shows drift found by refresh through the CLI and the
 * deployer, and `up` restoring it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../runtime/engine/project";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { backendNames, call, freshDatabase, pointAtCluster, projectCopy, type Service, startService, tempStackNames, twoTeams, waitFor } from "./helpers";

describe.each(backendNames)("drift schedules, no engine (%s database)", (backend) => {
    let replicas: Service[];
    let dbCleanup: () => Promise<void>;
    const [stackA, stackB] = tempStackNames(backend === "embedded" ? "se" : "sp", 2) as [string, string];
    let teamA: string;
    let viewerA: string;

    beforeAll(async () => {
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        const options = { database: db.options, pollIntervalMs: 200, scheduleMinIntervalSeconds: 5 };
        const first = await startService(options);
        // Two replicas share one PostgreSQL; the embedded database serves one process.
        replicas = backend === "postgres" ? [first, await startService(options)] : [first];
        ({ teamA } = await twoTeams(first, [stackA, stackB], `sch-${backend}`));
        viewerA = (
            await call(first.url, "POST", "/v1/tokens", { token: first.adminToken, body: { name: `a-viewer-sch-${backend}`, teams: { "team-a": "viewer" } } })
        ).body.token;
        await pointAtCluster(first.url, first.adminToken, stackA, { kubeContext: "x1agent-local", kubeconfig: "/nonexistent/kubeconfig" });
    });

    afterAll(async () => {
        for (const r of replicas ?? []) await r.close();
        await dbCleanup?.();
    });

    it("refuses a schedule that does not parse, never fires or fires too often, with 422 naming the field, the value and an example", async () => {
        const url = replicas[0]!.url;
        const put = (drift: unknown, token = teamA, stack = stackA) => call(url, "PUT", `/v1/stacks/${stack}/schedule`, { token, body: { drift } });
        const cases = [
            {
                cron: "61 * * * *",
                message:
                    /^drift\.cron '61 \* \* \* \*' does not parse \(Invalid value for minute: 61\): write five fields, minute hour day-of-month month day-of-week, in UTC, e\.g\. "0 \*\/6 \* \* \*" \(every six hours\)/,
            },
            { cron: "every hour", message: /^drift\.cron 'every hour' does not parse \(invalid configuration format .*\): write five fields/ },
            {
                cron: "0 0 31 2 *",
                message: /^drift\.cron '0 0 31 2 \*' never fires \(no date matches it\): write a pattern that comes round, e\.g\. "0 \*\/6 \* \* \*"/,
            },
            {
                cron: "*/2 * * * * *",
                message:
                    /^drift\.cron '\*\/2 \* \* \* \* \*' fires every 2s, more often than the shortest interval allowed, 5s \(X1_DEPLOYER_SCHEDULE_MIN_INTERVAL_SECONDS\)/,
            },
        ];
        for (const c of cases) {
            const r = await put({ cron: c.cron });
            expect(r.status, c.cron).toBe(422);
            expect(r.body.message).toMatch(c.message);
            expect(r.body.problems).toEqual([{ key: "drift.cron", value: c.cron, message: expect.any(String) }]);
        }
        const missing = await put({ remediate: true });
        expect(missing.status).toBe(400);
        expect(missing.body.message).toMatch(/body\.drift\.cron/);
        const otherTeam = await put({ cron: "0 */6 * * *" }, teamA, stackB);
        expect(otherTeam.status).toBe(403);
        expect(otherTeam.body.message).toMatch(new RegExp(`stack '${stackB}' belongs to team 'team-b'`));
        const render = await call(url, "PUT", `/v1/stacks/${stackB}/schedule`, { token: replicas[0]!.adminToken, body: { drift: { cron: "0 */6 * * *" } } });
        expect(render.status).toBe(422);
        expect(render.body.message).toMatch(
            /renders its manifests to a directory .* no live cluster to detect drift against\. Set cluster\.kubeContext .* to check drift against a cluster/,
        );
        const viewer = await put({ cron: "0 */6 * * *" }, viewerA);
        expect(viewer.status).toBe(403);
        expect(viewer.body.message).toMatch(/set-schedule on stack '.*' needs the operator role in team 'team-a'; token:a-viewer-sch-.* is viewer there/);

        const ok = await put({ cron: "0 */6 * * *", remediate: true });
        expect(ok.status).toBe(200);
        expect(ok.body.drift).toMatchObject({ cron: "0 */6 * * *", remediate: true });
        expect(ok.body.drift.updatedBy).toMatch(/^token:a-sch-/);
        expect(new Date(ok.body.drift.nextCheckAt).getUTCHours() % 6).toBe(0);
        expect((await call(url, "GET", `/v1/stacks/${stackA}/schedule`, { token: viewerA })).body.drift.cron).toBe("0 */6 * * *");
        expect((await call(url, "GET", `/v1/stacks/${stackA}/drift`, { token: viewerA })).body).toMatchObject({
            stack: stackA,
            latest: null,
            schedule: { cron: "0 */6 * * *" },
        });
        const removed = await put(null);
        expect(removed.body.drift).toBeNull();
    });

    it("claims each due slot once, however many replicas see it due", async () => {
        const [one] = replicas as [Service];
        const admin = one.adminToken;
        // Paused: the checks stay queued (no engine); each is cancelled as it comes, so the next slot queues its own.
        await call(one.url, "POST", "/v1/pause", { token: admin, body: { reason: "schedule claim test" } });
        const set = await call(one.url, "PUT", `/v1/stacks/${stackA}/schedule`, { token: teamA, body: { drift: { cron: "*/5 * * * * *" } } });
        expect(set.status).toBe(200);
        const started = Date.now();
        const seen = new Set<string>();
        while (Date.now() - started < 24_000) {
            for (const r of (await call(one.url, "GET", `/v1/runs?stack=${stackA}&status=queued`, { token: admin })).body.runs) {
                expect(r).toMatchObject({ operation: "drift", trigger: "schedule", requestedBy: "scheduler" });
                expect(r.queue.waitingFor).toMatch(/the deployer is paused/);
                seen.add(r.id);
                await call(one.url, "POST", `/v1/runs/${r.id}/cancel`, { token: admin });
            }
            await new Promise((res) => setTimeout(res, 300));
        }
        await call(one.url, "PUT", `/v1/stacks/${stackA}/schedule`, { token: teamA, body: { drift: null } });
        await call(one.url, "DELETE", "/v1/pause", { token: admin });

        const schedule = (await call(one.url, "GET", `/v1/stacks/${stackA}/schedule`, { token: admin })).body;
        const slots = schedule.recentSlots as { slot: string; claimedBy: string; runId: string | null; outcome: string }[];
        const runs = (await call(one.url, "GET", `/v1/runs?stack=${stackA}&limit=100`, { token: admin })).body.runs.filter(
            (r: any) => r.trigger === "schedule",
        );
        expect(slots.length).toBeGreaterThanOrEqual(3);
        expect(new Set(slots.map((s) => s.slot)).size).toBe(slots.length);
        for (const s of slots) expect(new Date(s.slot).getUTCSeconds() % 5).toBe(0);
        // One run per slot that queued one; every run belongs to exactly one slot.
        const queued = slots.filter((s) => s.outcome === "queued");
        expect(new Set(queued.map((s) => s.runId)).size).toBe(queued.length);
        const runIds = runs.map((r: any) => r.id);
        for (const s of queued) expect(runIds).toContain(s.runId);
        expect(runs.length).toBe(new Set(slots.filter((s) => s.runId).map((s) => s.runId)).size);
        for (const s of slots.filter((x) => x.outcome !== "queued")) expect(s.outcome).toMatch(/^skipped: the previous check .* is still (queued|running)$/);
        const claimers = new Set(slots.map((s) => s.claimedBy));
        const workers = replicas.map((r) => r.deployer.worker.identity.id);
        for (const c of claimers) expect(workers).toContain(c);
        console.log(
            `[runtime tier] ${backend}: ${replicas.length} replica(s), ${slots.length} slots in 24 s, ${queued.length} checks queued, ${slots.length - queued.length} skipped, ${runs.length} scheduled runs; slots claimed by ${[...claimers].map((c) => `replica ${workers.indexOf(c) + 1}`).join(", ")}`,
        );
    });
});

interface Child {
    proc: ChildProcess;
    url: string;
    output: () => string;
}

async function startServer(env: Record<string, string>): Promise<Child> {
    const proc = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "runtime", "deployer", "server.ts")], {
        cwd: projectRoot,
        env: { ...process.env, X1_DEPLOYER_PORT: "0", X1_DEPLOYER_LOG_LEVEL: "warn", ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout!.on("data", (d) => (out += String(d)));
    proc.stderr!.on("data", (d) => (out += String(d)));
    const url = await waitFor(
        "the deployer to listen",
        async () => {
            if (proc.exitCode !== null) throw new Error(`deployer exited ${proc.exitCode}:\n${out}`);
            return /listening on (http:\/\/\S+)/.exec(out)?.[1];
        },
        120_000,
        200,
    );
    return { proc, url, output: () => out };
}

describe.each(backendNames)("a replica killed while it runs a scheduled check (%s database)", (backend) => {
    let sandbox: EngineSandbox;
    const [stack] = tempStackNames(backend === "embedded" ? "ke" : "kp", 1) as [string];
    let dataDir: string;
    let env: Record<string, string>;
    let dbCleanup: () => Promise<void>;
    let child: Child | undefined;
    let projectDir: string;

    beforeAll(async () => {
        sandbox = await engineSandbox(`runtime-schedule-kill-${backend}`);
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1-runtime-tier-passphrase";
        dataDir = mkdtempSync(path.join(tmpdir(), "x1-deployer-schedule-kill-"));
        const project = projectCopy("schedule-kill");
        projectDir = project.paths.projectRoot;
        const db = await freshDatabase(backend, path.join(dataDir, "db"));
        dbCleanup = async () => {
            await db.cleanup();
            project.remove();
        };
        env = {
            X1_DEPLOYER_DATA_DIR: dataDir,
            X1_DEPLOYER_PROJECT_DIR: projectDir,
            X1_DEPLOYER_STALE_SECONDS: "5",
            X1_DEPLOYER_SCHEDULE_MIN_INTERVAL_SECONDS: "10",
            ...(db.options.kind === "postgres" ? { X1_DEPLOYER_DATABASE_URL: db.options.url } : {}),
        };
    });

    afterAll(async () => {
        child?.proc.kill("SIGKILL");
        await dbCleanup?.();
        rmSync(dataDir, { recursive: true, force: true });
        sandbox?.cleanup();
    });

    it("records the check interrupted and never runs that slot a second time", async () => {
        child = await startServer(env);
        const admin = readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
        expect((await call(child.url, "POST", "/v1/stacks", { token: admin, body: { name: stack, from: "render", team: "ops" } })).status).toBe(201);
        // A stack that names a cluster but was never applied: its drift check reads no resource, so no cluster is needed to run it.
        await pointAtCluster(child.url, admin, stack, { kubeContext: "x1agent-local", kubeconfig: "/nonexistent/kubeconfig" });
        expect((await call(child.url, "PUT", `/v1/stacks/${stack}/schedule`, { token: admin, body: { drift: { cron: "*/20 * * * * *" } } })).status).toBe(200);
        const held = await waitFor(
            "a scheduled check to be running",
            async () => (await call(child!.url, "GET", `/v1/runs?stack=${stack}&status=running`, { token: admin })).body.runs[0],
            120_000,
            100,
        );
        expect(held).toMatchObject({ operation: "drift", trigger: "schedule" });
        const killedPid = child.proc.pid!;
        child.proc.kill("SIGKILL");
        await new Promise((r) => child!.proc.once("exit", r));

        child = await startServer(env);
        const interrupted = await waitFor(
            "the restarted replica to settle the check",
            async () => {
                const r = (await call(child!.url, "GET", `/v1/runs/${held.id}`, { token: admin })).body.run;
                return r.status === "interrupted" ? r : undefined;
            },
            120_000,
            250,
        );
        expect(interrupted.error).toMatch(
            new RegExp(
                `pid ${killedPid}\\) stopped mid-run .* This scheduled drift check is not run again for its slot \\(claimed once\\); the schedule's next slot checks again`,
            ),
        );
        // The schedule goes on: a later slot's check runs to its end.
        const next = await waitFor(
            "a later slot's check to end",
            async () => {
                const runs = (await call(child!.url, "GET", `/v1/runs?stack=${stack}&limit=50`, { token: admin })).body.runs;
                return runs.find((r: any) => r.trigger === "schedule" && r.id !== held.id && ["succeeded", "failed"].includes(r.status));
            },
            240_000,
            500,
        );
        expect(next.status, next.error).toBe("succeeded");
        expect(next.drift).toEqual([]);
        await call(child.url, "PUT", `/v1/stacks/${stack}/schedule`, { token: admin, body: { drift: null } });
        const slots = (await call(child.url, "GET", `/v1/stacks/${stack}/schedule`, { token: admin })).body.recentSlots as any[];
        const heldSlots = slots.filter((s) => s.runId === held.id && s.outcome === "queued");
        expect(heldSlots).toHaveLength(1);
        const runs = (await call(child.url, "GET", `/v1/runs?stack=${stack}&limit=50`, { token: admin })).body.runs.filter(
            (r: any) => r.trigger === "schedule",
        );
        // Each scheduled run belongs to exactly one slot: the interrupted slot was not queued again.
        const queuedSlots = slots.filter((s) => s.outcome === "queued");
        expect(runs.length).toBe(queuedSlots.length);
        expect(new Set(queuedSlots.map((s) => s.slot)).size).toBe(queuedSlots.length);
        console.log(
            `[runtime tier] ${backend}: killed pid ${killedPid} holding scheduled check ${held.id} (slot ${heldSlots[0].slot}); after the restart: interrupted, ${queuedSlots.length} slot(s) queued ${runs.length} run(s), next check ${next.status}`,
        );
        child.proc.kill("SIGTERM");
        await new Promise((r) => child!.proc.once("exit", r));
        child = undefined;
    });
});
