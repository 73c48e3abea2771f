/**
 * A stack's engine lock over HTTP, on both database backends: on the
 * embedded database the state is a file backend (the lock a JSON file per
 * holder), on PostgreSQL the CLI's postgres:// backend in the deployer's
 * database (the lock a row of pulumi.pulumi_state, the table the deployer's
 * migrations make). The locks are written here in the CLI's format
 * (its diy backend's lockContent at its lock path), because a real holder
 * would need an update killed midway: one holder is a live process whose
 * command line names pulumi (a `sleep` started as `pulumi-holder`), the
 * other a pid that no longer runs. No worker runs (nothing would clear a
 * lock behind the test's back); "a run in progress" is the runs table's
 * `running` row, set here as a worker would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir, userInfo } from "node:os";
import * as path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendNames, call, freshDatabase, projectCopy, type Service, startService, tempStackNames, waitFor } from "./helpers";

describe.each(backendNames)("a stack's engine lock (%s database)", (backend) => {
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    let copy: ReturnType<typeof projectCopy>;
    let stateDir: string;
    let writeLock: (content: Record<string, unknown>) => Promise<void>;
    let holder: ChildProcess | undefined;
    const [stack] = tempStackNames(backend === "embedded" ? "le" : "lp", 1) as [string];
    let operator: string;
    let teamAdmin: string;

    beforeAll(async () => {
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        copy = projectCopy(`locks-${backend}`);
        stateDir = mkdtempSync(path.join(tmpdir(), `x1-locks-${backend}-`));
        const lockPath = `.pulumi/locks/organization/x1agent-platform/${stack}/${randomUUID()}.json`;
        if (db.options.kind === "postgres") {
            const client = new pg.Client({ connectionString: db.options.url });
            writeLock = async (content) => {
                await client.query("INSERT INTO pulumi.pulumi_state (key, data) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET data = $2", [
                    lockPath,
                    JSON.stringify(content),
                ]);
            };
            await client.connect();
            svc = await startService({ database: db.options, runWorker: false, paths: copy.paths });
            const close = svc.close;
            svc.close = async () => {
                await client.end();
                await close();
            };
        } else {
            writeLock = async (content) => {
                const file = path.join(stateDir, lockPath);
                mkdirSync(path.dirname(file), { recursive: true });
                writeFileSync(file, JSON.stringify(content));
            };
            svc = await startService({ database: db.options, runWorker: false, paths: { ...copy.paths, backendUrl: `file://${stateDir}` } });
        }
        const created = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "shop" } });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const token = async (name: string, role: string) =>
            (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: `${name}-${backend}`, teams: { shop: role } } })).body
                .token as string;
        operator = await token("lock-op", "operator");
        teamAdmin = await token("lock-admin", "admin");
    });

    afterAll(async () => {
        holder?.kill("SIGKILL");
        await svc?.close();
        await dbCleanup?.();
        copy?.remove();
        rmSync(stateDir, { recursive: true, force: true });
    });

    const lock = async (token = operator) => call(svc.url, "GET", `/v1/stacks/${stack}/lock`, { token });

    it("shows who holds the lock, and refuses to clear it while its holder runs here", async () => {
        const free = await lock();
        expect(free.status, JSON.stringify(free.body)).toBe(200);
        expect(free.body).toEqual({ stack, backend: backend === "postgres" ? "postgres" : "file", inspectable: true, runningRunId: null, holders: [] });

        holder = spawn("bash", ["-c", "exec -a pulumi-holder sleep 600"], { stdio: "ignore" });
        const since = new Date().toISOString();
        await writeLock({ pid: holder.pid, username: userInfo().username, hostname: hostname(), timestamp: since });
        const held = await lock();
        expect(held.body.holders).toEqual([{ pid: holder.pid, user: userInfo().username, host: hostname(), since, alive: true }]);
        const refused = await call(svc.url, "DELETE", `/v1/stacks/${stack}/lock`, { token: teamAdmin });
        expect(refused.status).toBe(409);
        expect(refused.body.message).toBe(
            `stack '${stack}' is locked by a live process on this host (pid ${holder.pid}, ${userInfo().username}, since ${since}): let it finish or stop it (SIGINT cancels the CLI cleanly)`,
        );
        expect((await lock()).body.holders).toHaveLength(1);
    });

    it("lets only the team's admin clear a stale lock, never while a run of the stack is in progress, and audits it", async () => {
        const pid = holder!.pid!;
        holder!.kill("SIGKILL");
        await waitFor("the holder to be gone", async () => (await lock()).body.holders[0]?.alive === false, 10_000, 100);

        const byOperator = await call(svc.url, "DELETE", `/v1/stacks/${stack}/lock`, { token: operator });
        expect(byOperator.status).toBe(403);
        expect(byOperator.body.message).toMatch(
            new RegExp(`clear-lock on stack '${stack}' needs the admin role in team 'shop'; token:lock-op-${backend} is operator there`),
        );

        // A run of this stack in progress holds the lock: clearing it is refused, naming the run.
        const run = await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token: operator, body: { operation: "preview" } });
        await svc.deployer.database.db.updateTable("runs").set({ status: "running", started_at: new Date() }).where("id", "=", run.body.run.id).execute();
        const busy = await call(svc.url, "DELETE", `/v1/stacks/${stack}/lock`, { token: teamAdmin });
        expect(busy.status).toBe(409);
        expect(busy.body.message).toBe(
            `stack '${stack}' has a run of this deployer in progress (${run.body.run.id}), which holds its lock: cancel the run (POST /v1/runs/${run.body.run.id}/cancel) instead`,
        );
        expect((await lock()).body).toMatchObject({ runningRunId: run.body.run.id, holders: [{ pid, alive: false }] });
        await svc.deployer.database.db.updateTable("runs").set({ status: "cancelled", finished_at: new Date() }).where("id", "=", run.body.run.id).execute();

        const cleared = await call(svc.url, "DELETE", `/v1/stacks/${stack}/lock`, { token: teamAdmin });
        expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
        expect(cleared.body).toMatchObject({ stack, inspectable: true, runningRunId: null, holders: [] });
        expect((await lock()).body.holders).toEqual([]);
        const audit = (await call(svc.url, "GET", "/v1/audit?limit=100", { token: svc.adminToken })).body.entries.filter((e: any) => e.action === "clear-lock");
        expect(audit.map((e: any) => [e.actor, e.outcome])).toEqual(
            expect.arrayContaining([
                [`token:lock-admin-${backend}`, "ok"],
                [`token:lock-op-${backend}`, "denied"],
            ]),
        );
        expect(audit.find((e: any) => e.outcome === "ok").reason).toMatch(new RegExp(`@${hostname()} pid ${pid} since `));
        console.log(`[runtime tier] ${backend}: lock of pid ${pid} shown, refused while live and while a run was in progress, cleared by the team admin`);
    });
});
