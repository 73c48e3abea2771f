/**
 * Two deployer replicas that share nothing but a PostgreSQL database: each
 * its own process, data folder and working copy of the project, Pulumi's
 * state in that database (the CLI's postgres:// backend, schema `pulumi`),
 * the stack config in it too (stack_configs, compare-and-set on write, the
 * file exported to each working copy). Shown over HTTP: stacks and config
 * made on one replica are served by the other; two edits based on one
 * revision never both land (one 409 naming both revisions); runs queued on
 * both run one per stack at a time; a stack deployed through one replica is
 * run by the other with no changes (same state, same salt).
 *
 * The render stack's copies need no cluster. The one thing the replicas
 * share besides the database is the folder the render stacks write their
 * manifests to (X1_RENDER_ROOT): it stands in for the cluster both replicas
 * would apply to, whose path is part of the provider's config (a different
 * folder per replica would be a different cluster to the engine).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deployer } from "../../runtime/deployer/deployer";
import { createLogger } from "../../runtime/deployer/log";
import { postgresStateUrl } from "../../runtime/engine/backend";
import { pulumiCommand } from "../../runtime/engine/stack-runner";
import { call, freshDatabase, projectCopy, type ServerProcess, startServer, stopServer, tempStackNames, waitFor, waitForRun } from "./helpers";

const passphrase = "x1-runtime-tier-passphrase";

describe("two deployer replicas sharing only a PostgreSQL database", () => {
    const [s1, s2] = tempStackNames("rep", 2) as [string, string];
    const copies = { a: projectCopy("replica-a"), b: projectCopy("replica-b") };
    const scratch = mkdtempSync(path.join(tmpdir(), "x1-replicas-"));
    const dataDir = { a: path.join(scratch, "data-a"), b: path.join(scratch, "data-b") };
    const renderRoot = path.join(scratch, "rendered");
    let databaseUrl: string;
    let dbCleanup: () => Promise<void>;
    const replicas: Partial<Record<"a" | "b", ServerProcess>> = {};
    let admin: string;

    const envOf = (r: "a" | "b") => ({
        X1_DEPLOYER_DATABASE_URL: databaseUrl,
        X1_DEPLOYER_DATA_DIR: dataDir[r],
        X1_DEPLOYER_PROJECT_DIR: copies[r].paths.projectRoot,
        // No PULUMI_BACKEND_URL: the deployer keeps state in its database.
        PULUMI_BACKEND_URL: undefined,
        PULUMI_CONFIG_PASSPHRASE: passphrase,
        X1_RENDER_ROOT: renderRoot,
    });
    const url = (r: "a" | "b") => {
        const s = replicas[r];
        if (!s) throw new Error(`replica ${r} is not running`);
        return s.url;
    };
    const stateRows = async (like: string) => {
        const c = new pg.Client({ connectionString: databaseUrl });
        await c.connect();
        try {
            return (await c.query<{ key: string; data: { data: string } }>("SELECT key, data FROM pulumi.pulumi_state WHERE key LIKE $1 ORDER BY key", [like]))
                .rows;
        } catch (err) {
            // The CLI creates its table on first use.
            if ((err as { code?: string }).code === "42P01") return [];
            throw err;
        } finally {
            await c.end();
        }
    };

    beforeAll(async () => {
        const db = await freshDatabase("postgres");
        if (db.options.kind !== "postgres") throw new Error("expected a PostgreSQL database");
        databaseUrl = db.options.url;
        dbCleanup = db.cleanup;
        // One after the other: the first start issues the admin token (into its own data folder).
        replicas.a = await startServer(envOf("a"));
        admin = readFileSync(path.join(dataDir.a, "admin-token"), "utf8").trim();
        replicas.b = await startServer(envOf("b"));
        expect(existsSync(path.join(dataDir.b, "admin-token"))).toBe(false);
    });

    afterAll(async () => {
        for (const r of Object.values(replicas)) r?.proc.kill("SIGKILL");
        await dbCleanup?.();
        copies.a.remove();
        copies.b.remove();
        rmSync(scratch, { recursive: true, force: true });
    });

    it("serves the stacks and config made on either replica from both, each working copy holding the database's file", async () => {
        expect((await call(url("a"), "POST", "/v1/stacks", { token: admin, body: { name: s1, from: "render", team: "ops" } })).status).toBe(201);
        expect((await call(url("b"), "POST", "/v1/stacks", { token: admin, body: { name: s2, from: "render", team: "ops" } })).status).toBe(201);
        // The name is taken in the database, whichever replica is asked.
        const again = await call(url("b"), "POST", "/v1/stacks", { token: admin, body: { name: s1, from: "render", team: "ops" } });
        expect(again.status).toBe(409);
        for (const r of ["a", "b"] as const) {
            const list = await call(url(r), "GET", "/v1/stacks", { token: admin });
            expect(list.body.stacks.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining([s1, s2, "render"]));
        }
        const fromA = await call(url("a"), "GET", `/v1/stacks/${s2}`, { token: admin });
        const fromB = await call(url("b"), "GET", `/v1/stacks/${s2}`, { token: admin });
        expect(fromA.body.revision).toBe(fromB.body.revision);
        expect(readFileSync(copies.a.stackFile(s2), "utf8")).toBe(readFileSync(copies.b.stackFile(s2), "utf8"));
    });

    it("lets only one of two edits based on the same revision land: the other gets 409 naming both revisions", async () => {
        const rounds: string[] = [];
        for (let round = 1; round <= 4; round++) {
            const base = await call(url("a"), "GET", `/v1/stacks/${s1}`, { token: admin });
            const config = base.body.config as Record<string, any>;
            const edit = (r: "a" | "b") =>
                call(url(r), "PUT", `/v1/stacks/${s1}/config`, {
                    token: admin,
                    body: { config: { ...config, ingress: { ...config.ingress, host: `r${round}-${r}.x1agent.example.com` } }, revision: base.body.revision },
                });
            // Both at once, on different replicas, from the same revision.
            const [a, b] = await Promise.all([edit("a"), edit("b")]);
            expect([a.status, b.status].sort(), JSON.stringify([a.body, b.body])).toEqual([200, 409]);
            const [won, lost, winner] = a.status === 200 ? [a, b, "a"] : [b, a, "b"];
            expect(lost.body).toMatchObject({ expectedRevision: base.body.revision, currentRevision: won.body.revision });
            expect(lost.body.message).toContain(`changed since revision ${base.body.revision} (now ${won.body.revision})`);
            // Both replicas serve the winner's edit, and both working copies hold it.
            for (const r of ["a", "b"] as const) {
                const now = await call(url(r), "GET", `/v1/stacks/${s1}`, { token: admin });
                expect(now.body.revision).toBe(won.body.revision);
                expect(now.body.config.ingress.host).toBe(`r${round}-${winner}.x1agent.example.com`);
                expect(readFileSync(copies[r].stackFile(s1), "utf8")).toContain(`r${round}-${winner}.x1agent.example.com`);
            }
            rounds.push(`round ${round}: ${base.body.revision} -> ${won.body.revision} by replica ${winner}; the other got 409 (${lost.body.message})`);
        }
        console.log(`[runtime tier] replicas: concurrent config edits\n  ${rounds.join("\n  ")}`);
    });

    it("compares and sets in the database: two replicas' writes from one revision, one lands", async () => {
        // The API above may refuse the later edit before it reaches the database (its replica synced first);
        // here both writes reach the compare-and-set, through the deployer library on the same database.
        const logger = createLogger({ level: "warn", stream: { write: () => undefined } });
        const options = { kind: "postgres" as const, url: databaseUrl, poolSize: 2 };
        const [x, y] = await Promise.all([
            Deployer.start({ database: options, paths: copies.a.paths, runWorker: false, logger }),
            Deployer.start({ database: options, paths: copies.b.paths, runWorker: false, logger }),
        ]);
        try {
            const base = x.files.read(s2);
            expect(y.files.read(s2).revision).toBe(base.revision);
            const results = await Promise.allSettled([
                x.files.write(s2, `${base.text}# edit x\n`, base.revision),
                y.files.write(s2, `${base.text}# edit y\n`, base.revision),
            ]);
            const ok = results.filter((r) => r.status === "fulfilled");
            const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
            expect(ok).toHaveLength(1);
            expect(refused).toHaveLength(1);
            expect(refused[0]?.reason).toMatchObject({ status: 409, details: { expectedRevision: base.revision } });
        } finally {
            await Promise.all([x.stop(1000), y.stop(1000)]);
        }
    });

    it("runs what both replicas queue, one per stack at a time, with each stack's state visible from both", async () => {
        const queue = async (r: "a" | "b", stack: string, operation: string) => {
            const res = await call(url(r), "POST", `/v1/stacks/${stack}/runs`, { token: admin, body: { operation } });
            expect(res.status, JSON.stringify(res.body)).toBe(202);
            return res.body.run.id as string;
        };
        const started = Date.now();
        const ids = [await queue("a", s1, "up"), await queue("b", s2, "up"), await queue("b", s1, "preview"), await queue("a", s2, "preview")];
        // While the ups run, the engine's lock is a row of the state table naming the CLI's pid and host.
        const lock = await waitFor(
            "an engine lock row",
            async () => {
                const row = (await stateRows("%.pulumi/locks/%"))[0];
                if (row) return row;
                const first = (await call(url("a"), "GET", `/v1/runs/${ids[0]}`, { token: admin })).body.run;
                if (first.status !== "queued" && first.status !== "running")
                    throw new Error(`the up of ${s1} ended before a lock was seen: ${first.status} ${first.error}`);
                return undefined;
            },
            600_000,
            100,
        );
        const holder = JSON.parse(Buffer.from(lock.data.data, "base64").toString("utf8")) as { pid: number; hostname: string };
        console.log(`[runtime tier] replicas: engine lock while running: ${lock.key} -> pid ${holder.pid} on ${holder.hostname}`);
        const runs: Record<string, any>[] = await Promise.all(ids.map((id) => waitForRun(url("a"), admin, id, 900_000)));
        const [upS1, upS2] = runs as [Record<string, any>, Record<string, any>];
        for (const run of runs) expect(run.status, `${run.operation} ${run.stack}: ${run.error}`).toBe("succeeded");
        const pids = { a: replicas.a?.proc.pid, b: replicas.b?.proc.pid };
        for (const run of runs) expect([pids.a, pids.b]).toContain(run.worker.pid);
        // One per stack at a time: the preview of a stack started after its up ended.
        for (const stack of [s1, s2]) {
            const [up, preview] = runs.filter((r) => r.stack === stack) as [Record<string, any>, Record<string, any>];
            expect(up.operation).toBe("up");
            expect(Date.parse(preview.startedAt)).toBeGreaterThanOrEqual(Date.parse(up.finishedAt));
            // The preview saw the up's state, whichever replica ran it.
            expect(preview.counts).toMatchObject({ create: 0, update: 0, delete: 0, replace: 0 });
            expect(up.counts.create).toBeGreaterThan(5);
        }
        expect(await stateRows("%.pulumi/locks/%")).toEqual([]);
        const who = (pid: number) => (pid === pids.a ? "a" : "b");
        console.log(
            `[runtime tier] replicas: 4 runs in ${((Date.now() - started) / 1000).toFixed(1)} s: ${runs
                .map((r) => `${r.operation} ${r.stack} on replica ${who(r.worker.pid)} (${r.counts.create} created, ${r.counts.same} same)`)
                .join("; ")}`,
        );

        // The outputs, from Pulumi's state in PostgreSQL (the CLI, not the run history), and from both replicas.
        const cmd = await pulumiCommand();
        for (const [stack, up] of [
            [s1, upS1],
            [s2, upS2],
        ] as const) {
            const { stdout } = await promisify(execFile)(cmd.command, ["stack", "output", "--json", "--stack", stack, "--non-interactive"], {
                cwd: copies.b.paths.projectRoot,
                env: {
                    ...process.env,
                    PULUMI_BACKEND_URL: postgresStateUrl(databaseUrl),
                    PULUMI_CONFIG_PASSPHRASE: passphrase,
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                },
            });
            const state = JSON.parse(stdout) as Record<string, unknown>;
            expect(state.url).toBe(up.outputs.url);
            expect(state.tier).toBe("kubernetes");
            for (const r of ["a", "b"] as const) {
                expect((await call(url(r), "GET", `/v1/stacks/${stack}`, { token: admin })).body.outputs).toMatchObject({ url: up.outputs.url });
            }
        }
        // The up of s1 ran with the last edit the replicas accepted (the file exported to the working copy that ran it).
        expect(upS1.outputs.url).toMatch(/r4-[ab]\.x1agent\.example\.com/);
    });

    it("runs a stack deployed through one replica on the other with no changes: same state, same encryption salt", async () => {
        const figures: string[] = [];
        for (const [stopped, runner] of [
            ["b", "a"],
            ["a", "b"],
        ] as const) {
            const server = replicas[stopped];
            if (!server) throw new Error(`replica ${stopped} is not running`);
            expect(await stopServer(server)).toBe(0);
            replicas[stopped] = undefined;
            for (const stack of [s1, s2]) {
                const started = Date.now();
                const res = await call(url(runner), "POST", `/v1/stacks/${stack}/runs`, { token: admin, body: { operation: "up" } });
                const run = await waitForRun(url(runner), admin, res.body.run.id, 900_000);
                expect(run.status, run.error).toBe("succeeded");
                expect(run.worker.pid).toBe(replicas[runner]?.proc.pid);
                if (run.counts.create > 0) {
                    const rows = await stateRows(`%${stack}%`);
                    console.log(
                        `[runtime tier] replicas: up ${stack} on ${runner} created ${run.counts.create}; state keys: ${rows.map((r) => r.key).join(", ")}`,
                    );
                }
                expect(run.counts).toMatchObject({ create: 0, update: 0, delete: 0, replace: 0 });
                figures.push(`up ${stack} on replica ${runner} alone: ${run.counts.same} unchanged in ${((Date.now() - started) / 1000).toFixed(1)} s`);
            }
            replicas[stopped] = await startServer(envOf(stopped));
        }
        // One salt per stack, in the database and in both working copies.
        for (const stack of [s1, s2]) {
            const salt = (text: string) => /^encryptionsalt: .*$/m.exec(text)?.[0];
            const a = salt(readFileSync(copies.a.stackFile(stack), "utf8"));
            expect(a).toBeDefined();
            expect(salt(readFileSync(copies.b.stackFile(stack), "utf8"))).toBe(a);
        }
        const keys = (await stateRows("%")).map((r) => r.key.replace(/^[^/]*\//, ""));
        console.log(`[runtime tier] replicas: ${figures.join("; ")}; state rows: ${keys.length} (${keys.filter((k) => /stacks\//.test(k)).join(", ")})`);
    });
});
