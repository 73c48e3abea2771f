/**
 * (4) The deployer over its HTTP API: N stacks (copies of `render`) previewed
 * or applied (`up`, rendering to the deployer's render root) at once. The service runs as `npm run deployer` runs it (its own process,
 * embedded database), with a temp data folder, state backend and render
 * root, and X1_DEPLOYER_MAX_RUNS set to the largest N so the runs are not
 * queued behind each other. Per batch: runs per minute (N / time from the
 * first request to the last run's end) and, per run, the time from its
 * request to the first engine event on its SSE stream. Then, with `soak`,
 * that many more previews (N at once, a new one as each ends) with the
 * deployer process's resident memory read after each: it must level off,
 * not grow with the runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { sseMessages } from "../runtime/deployer/client";
import { projectRoot, stacksDir } from "../runtime/engine/project";
import { benchPassphrase } from "./preview";
import { type Summary, sleep, summarize } from "./stats";

export interface DeployerRow {
    stacks: number;
    runsPerMinute: Summary;
    batchMs: Summary;
    /** Request sent -> first engine event (the prelude) received on the run's SSE stream. */
    firstEventMs: Summary;
    /** Request sent -> first resource event: the program is running. */
    firstResourceMs: Summary;
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as { port: number }).port;
            srv.close(() => resolve(port));
        });
    });
}

interface Service {
    url: string;
    token: string;
    /** The deployer process's resident memory now, MiB. */
    rssMiB: () => number;
    stop: () => Promise<void>;
}

export interface SoakResult {
    operation: "preview";
    runs: number;
    concurrency: number;
    startRssMiB: number;
    /** The deployer's RSS after each run ended, in the order they ended. */
    rssMiB: number[];
    /** Least-squares slope of RSS over the second half of the runs, KiB per run (about 0: no growth). */
    secondHalfSlopeKiBPerRun: number;
    runsPerMinute: number;
}

export interface DeployerResult {
    operation: "preview" | "up";
    rows: DeployerRow[];
    soak?: SoakResult;
}

async function startDeployer(dir: string, maxRuns: number, log: (s: string) => void): Promise<Service> {
    const port = await freePort();
    const dataDir = path.join(dir, "deployer");
    mkdirSync(path.join(dir, "state"), { recursive: true });
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "runtime", "deployer", "server.ts")], {
        cwd: projectRoot,
        env: {
            ...process.env,
            X1_DEPLOYER_HOST: "127.0.0.1",
            X1_DEPLOYER_PORT: String(port),
            X1_DEPLOYER_DATA_DIR: dataDir,
            X1_DEPLOYER_MAX_RUNS: String(maxRuns),
            X1_DEPLOYER_LOG_LEVEL: "warn",
            PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
            X1_RENDER_ROOT: path.join(dir, "rendered"),
            PULUMI_CONFIG_PASSPHRASE: benchPassphrase,
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + 120_000;
    while (!/listening on/.test(output)) {
        if (child.exitCode !== null) throw new Error(`the deployer exited (${child.exitCode}) before listening:\n${output}`);
        if (Date.now() > deadline) throw new Error(`the deployer did not listen within 120 s:\n${output}`);
        await sleep(100);
    }
    log(
        `  deployer: ${output
            .trim()
            .split("\n")
            .find((l) => /listening on/.test(l))}`,
    );
    return {
        url: `http://127.0.0.1:${port}`,
        token: readFileSync(path.join(dataDir, "admin-token"), "utf8").trim(),
        rssMiB: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? NaN) / 1024,
        stop: async () => {
            if (child.exitCode === null) child.kill("SIGTERM");
            await Promise.race([exited, sleep(30_000)]);
            if (child.exitCode === null) child.kill("SIGKILL");
        },
    };
}

async function call(svc: Service, method: string, route: string, body?: unknown): Promise<any> {
    const res = await fetch(`${svc.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${svc.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : {};
}

/** Follows a run's SSE stream to its end; returns when the first engine event, the first resource event and the end arrived (performance.now()). */
async function follow(svc: Service, runId: string): Promise<{ firstEvent?: number; firstResource?: number; end: number }> {
    const res = await fetch(`${svc.url}/v1/runs/${runId}/events`, { headers: { authorization: `Bearer ${svc.token}`, accept: "text/event-stream" } });
    if (!res.ok || !res.body) throw new Error(`SSE for run ${runId} answered ${res.status}`);
    let firstEvent: number | undefined;
    let firstResource: number | undefined;
    for await (const m of sseMessages(res.body)) {
        if (m.event === "end") return { firstEvent, firstResource, end: performance.now() };
        // `run` messages are the deployer's own status lines; `engine` ones come from the engine.
        if (m.event !== "engine") continue;
        firstEvent ??= performance.now();
        if (!firstResource && /"kind":"resource-pre"/.test(m.data)) firstResource = performance.now();
    }
    return { firstEvent, firstResource, end: performance.now() };
}

interface Batch {
    batchMs: number;
    firstEventMs: number[];
    firstResourceMs: number[];
}

async function batch(svc: Service, stacks: string[], operation: "preview" | "up" | "destroy" = "preview"): Promise<Batch> {
    const t0 = performance.now();
    const runs = await Promise.all(
        stacks.map(async (stack) => {
            const sent = performance.now();
            // A destroy names the stack again, as the API asks of every destroy.
            const r = await call(svc, "POST", `/v1/stacks/${stack}/runs`, { operation, ...(operation === "destroy" ? { confirm: stack } : {}) });
            const f = await follow(svc, r.run.id as string);
            const { run } = (await call(svc, "GET", `/v1/runs/${r.run.id}`)) as { run: { status: string; error?: string } };
            return {
                firstEventMs: (f.firstEvent ?? f.end) - sent,
                firstResourceMs: (f.firstResource ?? f.end) - sent,
                end: f.end,
                status: run.status,
                error: run.error,
            };
        }),
    );
    const failed = runs.filter((r) => r.status !== "succeeded");
    // A failed run is not a throughput figure: stop with the reason.
    if (failed.length > 0)
        throw new Error(`deployer ${operation}(s) did not succeed: ${failed.map((r) => `${r.status}: ${r.error ?? "no error recorded"}`).join("; ")}`);
    return {
        batchMs: Math.max(...runs.map((r) => r.end)) - t0,
        firstEventMs: runs.map((r) => r.firstEventMs),
        firstResourceMs: runs.map((r) => r.firstResourceMs),
    };
}

/** `total` previews, `concurrency` at once, a new one as each ends; the deployer's RSS after each. */
async function soak(svc: Service, stacks: string[], total: number, log: (s: string) => void): Promise<SoakResult> {
    const startRssMiB = svc.rssMiB();
    const rssMiB: number[] = [];
    let next = 0;
    const t0 = performance.now();
    const lane = async (stack: string) => {
        while (next < total) {
            next++;
            await batch(svc, [stack]);
            rssMiB.push(svc.rssMiB());
            if (rssMiB.length % 10 === 0) log(`  deployer soak: ${rssMiB.length}/${total} runs, RSS ${rssMiB[rssMiB.length - 1]!.toFixed(0)} MiB`);
        }
    };
    await Promise.all(stacks.map(lane));
    const minutes = (performance.now() - t0) / 60_000;
    const half = rssMiB.slice(Math.floor(rssMiB.length / 2));
    const xs = half.map((_, i) => i);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = half.reduce((a, b) => a + b, 0) / half.length;
    const slope = xs.reduce((a, x, i) => a + (x - mx) * (half[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    return {
        operation: "preview",
        runs: rssMiB.length,
        concurrency: stacks.length,
        startRssMiB,
        rssMiB,
        secondHalfSlopeKiBPerRun: slope * 1024,
        runsPerMinute: rssMiB.length / minutes,
    };
}

export interface DeployerOptions {
    /** Stacks run at once, per row. */
    counts: number[];
    /** Batches per row. */
    runs: number;
    /** preview, or up (each timed batch of ups starts from empty stacks: a destroy batch, untimed, follows it). */
    operation: "preview" | "up";
    /** Previews after the rows, the deployer's memory read after each (0: none). */
    soak: number;
}

export async function benchDeployer(o: DeployerOptions, log: (s: string) => void): Promise<DeployerResult> {
    const { counts, runs, operation } = o;
    const dir = mkdtempSync(path.join(tmpdir(), "x1-bench-deployer-"));
    const maxN = Math.max(...counts);
    const names = Array.from({ length: maxN }, (_, i) => `bench-deployer-${i + 1}`);
    let svc: Service | undefined;
    const rows: DeployerRow[] = [];
    let soakResult: SoakResult | undefined;
    try {
        svc = await startDeployer(dir, maxN, log);
        for (const name of names) await call(svc, "POST", "/v1/stacks", { name, from: "render", team: "bench" });
        // Warm-up (not counted): the first run initializes the database's tables and the CLI's plugin cache.
        await batch(svc, names.slice(0, 1));
        for (const n of counts) {
            const b: Batch[] = [];
            for (let i = 0; i < runs; i++) {
                const r = await batch(svc, names.slice(0, n), operation);
                b.push(r);
                log(
                    `  deployer ${n} stack(s) ${operation} at once, run ${i + 1}/${runs}: ${r.batchMs.toFixed(0)} ms, first engine event after ${r.firstEventMs.map((x) => x.toFixed(0)).join("/")} ms, first resource event after ${r.firstResourceMs.map((x) => x.toFixed(0)).join("/")} ms`,
                );
                // The next batch of ups starts from empty stacks again (untimed).
                if (operation === "up") await batch(svc, names.slice(0, n), "destroy");
            }
            rows.push({
                stacks: n,
                runsPerMinute: summarize(b.map((r) => (n / r.batchMs) * 60_000)),
                batchMs: summarize(b.map((r) => r.batchMs)),
                firstEventMs: summarize(b.flatMap((r) => r.firstEventMs)),
                firstResourceMs: summarize(b.flatMap((r) => r.firstResourceMs)),
            });
        }
        if (o.soak > 0) soakResult = await soak(svc, names, o.soak, log);
    } finally {
        await svc?.stop();
        for (const name of names) rmSync(path.join(stacksDir, `Pulumi.${name}.yaml`), { force: true });
        rmSync(dir, { recursive: true, force: true });
    }
    return { operation, rows, ...(soakResult ? { soak: soakResult } : {}) };
}
