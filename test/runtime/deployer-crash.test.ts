/**
 * A deployer killed with SIGKILL in the middle of an `up`, then started
 * again, on both database backends: the run is recorded as interrupted with
 * a message saying what to do, the stack's engine lock is cleared (its
 * holder is gone), and the next run on the stack succeeds. The service runs
 * as a child process, as in production.
 *
 * Then the deployer killed together with its engine (a pod's container
 * stopped), the engine caught writing a checkpoint's attributes file: the
 * kill is real, the half-written file is made here so the case is met every
 * time (real kills above tear the backup's, `<stack>.json.bak.attrs`,
 * written just before each checkpoint, in some runs and not others), and
 * the restart repairs it.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineLock } from "../../runtime/deployer/worker/engine-lock";
import { fileBackendDir } from "../../runtime/engine/backend";
import { checkpointDirs } from "../../runtime/engine/diy-layout";
import { pulumiCommand } from "../../runtime/engine/stack-runner";
import { processesWithEnvironment } from "../../runtime/deployer/worker/orphans";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { backendNames, call, freshDatabase, projectCopy, type ServerProcess, startServer, tempStackNames, waitFor, waitForRun } from "./helpers";

let sandbox: EngineSandbox;
beforeAll(async () => {
    sandbox = await engineSandbox("runtime-crash");
    process.env.PULUMI_CONFIG_PASSPHRASE = "x1-runtime-tier-passphrase";
});
afterAll(() => sandbox?.cleanup());

describe.each(backendNames)("a deployer killed mid-run and restarted (%s database)", (backend) => {
    const stack = tempStackNames(backend === "embedded" ? "ke" : "kp", 1)[0]!;
    const project = projectCopy("crash");
    let dataDir: string;
    let env: Record<string, string>;
    let dbCleanup: () => Promise<void>;
    let child: ServerProcess | undefined;

    beforeAll(async () => {
        dataDir = mkdtempSync(path.join(tmpdir(), "x1-deployer-crash-"));
        const db = await freshDatabase(backend, path.join(dataDir, "db"));
        dbCleanup = db.cleanup;
        env = {
            X1_DEPLOYER_DATA_DIR: dataDir,
            X1_DEPLOYER_PROJECT_DIR: project.paths.projectRoot,
            X1_DEPLOYER_STALE_SECONDS: "5",
            ...(db.options.kind === "postgres" ? { X1_DEPLOYER_DATABASE_URL: db.options.url } : {}),
        };
    });

    afterAll(async () => {
        child?.proc.kill("SIGKILL");
        await dbCleanup?.();
        project.remove();
        rmSync(dataDir, { recursive: true, force: true });
    });

    it("records the run as interrupted, clears the stack's lock, and runs the next request", async () => {
        child = await startServer(env);
        const admin = readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
        expect(child.output()).not.toContain(admin);
        const id = await upInFlight(child.url, admin, stack);
        const killedPid = child.proc.pid!;
        child.proc.kill("SIGKILL");
        await new Promise((r) => child!.proc.once("exit", r));
        const lockAfterKill = engineLock(stack).holders;
        console.log(
            `[runtime tier] ${backend}: killed deployer pid ${killedPid} mid-up; engine lock holders right after: ${lockAfterKill.map((h) => `pid ${h.pid} alive=${h.alive}`).join(", ") || "none"}`,
        );

        const restartedAt = Date.now();
        child = await startServer(env);
        const run = await settledAsInterrupted(child.url, admin, id);
        expect(run.error).toMatch(new RegExp(`deployer running this run \\(.* pid ${killedPid}\\) stopped mid-run .* Run a refresh, then a preview`));
        expect(run.message).toMatch(/engine released its lock|removed the engine lock left by pid/);
        expect(run.message).toMatch(/^stopped \d+ engine process\(es\) the dead deployer left/);
        const detail = await call(child.url, "GET", `/v1/stacks/${stack}`, { token: admin });
        expect(detail.body.lock).toEqual({ runningRunId: null, queuedRuns: 0, engine: { inspectable: true, holders: [] } });
        console.log(`[runtime tier] ${backend}: restart to interrupted record with unlocked stack: ${Date.now() - restartedAt} ms; note: ${run.message}`);

        const next = await call(child.url, "POST", `/v1/stacks/${stack}/runs`, { token: admin, body: { operation: "up" } });
        const done = await waitForRun(child.url, admin, next.body.run.id);
        expect(done.status, done.error).toBe("succeeded");

        // A graceful stop: SIGTERM ends the process cleanly.
        child.proc.kill("SIGTERM");
        const code = await new Promise((r) => child!.proc.once("exit", (c) => r(c)));
        expect(code).toBe(0);
        child = undefined;
        // Nothing is left running: not the engine the kill orphaned, not its plugins.
        const leftovers = await waitFor(
            "engine processes to exit",
            async () => {
                const left = processesWithEnvironment(`PULUMI_BACKEND_URL=${process.env.PULUMI_BACKEND_URL}`);
                return left.length === 0 ? left : undefined;
            },
            30_000,
            500,
        ).catch(() => processesWithEnvironment(`PULUMI_BACKEND_URL=${process.env.PULUMI_BACKEND_URL}`));
        expect(leftovers).toEqual([]);
    });
});

describe("a deployer killed with its engine while the engine wrote a checkpoint", () => {
    const [stack] = tempStackNames("kt", 1) as [string];
    const project = projectCopy("torn");
    let dataDir: string;
    let env: Record<string, string>;
    let child: ServerProcess | undefined;

    beforeAll(() => {
        dataDir = mkdtempSync(path.join(tmpdir(), "x1-deployer-torn-"));
        env = { X1_DEPLOYER_DATA_DIR: dataDir, X1_DEPLOYER_PROJECT_DIR: project.paths.projectRoot, X1_DEPLOYER_STALE_SECONDS: "5" };
    });

    afterAll(() => {
        child?.proc.kill("SIGKILL");
        project.remove();
        rmSync(dataDir, { recursive: true, force: true });
    });

    it("removes the half-written attributes file on restart, and the stack runs again from its last checkpoint", async () => {
        const stateDir = fileBackendDir(process.env.PULUMI_BACKEND_URL ?? "");
        if (!stateDir) throw new Error("the engine sandbox gives a file backend");
        const selectStack = async () => {
            const cli = await pulumiCommand();
            return promisify(execFile)(cli.command, ["stack", "select", "--stack", stack, "--non-interactive"], {
                cwd: project.paths.projectRoot,
                env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" },
            }).then(
                () => "selected",
                (err: { stderr?: string }) => String(err.stderr ?? err),
            );
        };

        child = await startServer(env);
        const admin = readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
        const id = await upInFlight(child.url, admin, stack);
        // The container stops: the deployer and every engine process at once.
        const engines = processesWithEnvironment(`PULUMI_BACKEND_URL=${process.env.PULUMI_BACKEND_URL}`);
        child.proc.kill("SIGKILL");
        for (const p of engines) process.kill(p.pid, "SIGKILL");
        await new Promise((r) => child!.proc.once("exit", r));
        child = undefined;
        expect(engineLock(stack).holders.map((h) => h.alive)).toEqual([false]);

        // What fileblob leaves when killed between truncating a sidecar and writing it.
        const sidecar = path.posix.join(checkpointDirs()[0]!, `${stack}.json.attrs`);
        writeFileSync(path.join(stateDir, sidecar), "");
        expect(await selectStack()).toMatch(/failed to load checkpoint: EOF/);

        child = await startServer(env);
        const run = await settledAsInterrupted(child.url, admin, id);
        // The torn checkpoint sidecar made above, and any the kill tore itself (often the backup's).
        expect(run.message).toMatch(/^removed the engine lock left by pid \d+ \(no longer running\); removed [12] attributes file\(s\) /);
        expect(run.message).toContain(sidecar);
        console.log(`[runtime tier] torn checkpoint write: ${run.message}`);
        expect(await selectStack()).toBe("selected");

        const next = await call(child.url, "POST", `/v1/stacks/${stack}/runs`, { token: admin, body: { operation: "up" } });
        const done = await waitForRun(child.url, admin, next.body.run.id);
        expect(done.status, done.error).toBe("succeeded");
    });
});

/** Creates the stack from `render`, starts its `up` and returns the run's id once resources are in flight. */
async function upInFlight(url: string, admin: string, stack: string): Promise<string> {
    expect((await call(url, "POST", "/v1/stacks", { token: admin, body: { name: stack, from: "render", team: "ops" } })).status).toBe(201);
    const up = await call(url, "POST", `/v1/stacks/${stack}/runs`, { token: admin, body: { operation: "up" } });
    const id = up.body.run.id as string;
    await waitFor(
        "resources to be in flight",
        async () => {
            const r = (await call(url, "GET", `/v1/runs/${id}`, { token: admin })).body.run;
            if (r.status !== "queued" && r.status !== "running") throw new Error(`the up ended before the kill: ${r.status} ${r.error}`);
            return r.eventCount >= 3;
        },
        300_000,
        100,
    );
    return id;
}

/** The run as the restarted deployer settles it: interrupted, with its note. */
function settledAsInterrupted(url: string, admin: string, id: string): Promise<Record<string, any>> {
    return waitFor(
        "the restarted deployer to settle the interrupted run",
        async () => {
            const r = (await call(url, "GET", `/v1/runs/${id}`, { token: admin })).body.run;
            return r.status === "interrupted" && r.message ? r : undefined;
        },
        120_000,
        250,
    );
}
