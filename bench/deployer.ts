/**
 * (4) The deployer over its HTTP API: N stacks previewed or applied at once.
 * The service runs as `npm run deployer` runs it (its own process, embedded
 * database), with a temp data folder, state backend and render root, and
 * X1_DEPLOYER_MAX_RUNS set to the largest N so the runs are not queued
 * behind each other. Two targets:
 *
 *  - `render` (default): N copies of the `render` stack (the platform
 *    rendered to the deployer's render root), previewed or applied (`up`).
 *  - `cluster`: N copies of the `local` stack, each pointed (through the API)
 *    at a fresh local cluster of its own, as real environments each have
 *    theirs (copies of `local` cannot share one cluster: the x1agent,
 *    x1agent-secrets and add-on namespaces, CRDs, ClusterSecretStore and
 *    ClusterIssuers have fixed names); applied (`up`, every add-on from its
 *    chart, X1_CHART_MIRROR, the policy pack on every run). The clusters start
 *    one after another before anything is timed and are purged at the end.
 *
 * Per batch: runs per minute (N / time from the first request to the last
 * run's end), per run the time from its request to the first engine event
 * and to the first resource event on its SSE stream, its duration and
 * counts; the deployer's resident memory at the start, peak and end of the
 * batch and the 1-minute load at its start and end. Then, with `soak`, that
 * many more previews (N at once, a new one as each ends; on the cluster
 * target no-change previews of the applied stacks against their clusters)
 * with the deployer process's resident memory read after each: it must
 * level off, not grow with the runs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { DeployerClient, sseMessages } from "../runtime/deployer/client";
import { projectRoot, stacksDir } from "../runtime/engine/project";
import { BenchCluster } from "./apply";
import { benchPassphrase } from "./preview";
import { fmt, loadAverage, type Summary, sleep, slope, summarize, table } from "./stats";

export type DeployerTarget = "render" | "cluster";
export const deployerTargets: readonly DeployerTarget[] = ["render", "cluster"];

/** The deployer's resident memory over a batch, MiB (sampled every 250 ms for the peak). */
export interface RssWindow {
    startMiB: number;
    peakMiB: number;
    endMiB: number;
}

/** One run of a batch, as the client saw it and as the deployer recorded it. */
export interface RunFigures {
    stack: string;
    /** Request sent -> `end` on the run's SSE stream. */
    requestToEndMs: number;
    /** The deployer's own startedAt -> finishedAt (the engine's run, without the wait for a slot). */
    runMs: number;
    firstEventMs: number;
    firstResourceMs: number;
    /** The run's change counts (create, update, same, delete, replace). */
    counts: Record<string, number> | null;
    /** Whether the policy pack ran with the run, and its mandatory findings. */
    policy: { applied: boolean; mandatory: number } | null;
}

export interface DeployerRow {
    stacks: number;
    runsPerMinute: Summary;
    batchMs: Summary;
    /** Request sent -> first engine event (the prelude) received on the run's SSE stream. */
    firstEventMs: Summary;
    /** Request sent -> first resource event: the program is running. */
    firstResourceMs: Summary;
    /** Request sent -> the run's end, over every run of the row. */
    requestToEndMs: Summary;
    /** Per batch. */
    rssMiB: RssWindow[];
    /** 1-minute load average at each batch's start and end. */
    load: { start: number; end: number }[];
    runs: RunFigures[];
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
    /** The project's own client of the deployer's API (what `x1` uses with X1_DEPLOYER_URL). */
    client: DeployerClient;
    /** The deployer process's resident memory now, MiB. */
    rssMiB: () => number;
    /** A variable of the deployer process's environment as it started (/proc/<pid>/environ). */
    envOf: (name: string) => string | undefined;
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
    /** Soak previews that reported a change (on the cluster target each should change nothing). */
    changedRuns: number;
    load: { start: number; end: number };
}

export interface DeployerResult {
    target: DeployerTarget;
    operation: "preview" | "up";
    /** The deployer's RSS once it listens, before any run (MiB). */
    idleRssMiB?: number;
    rows: DeployerRow[];
    soak?: SoakResult;
    /** Cluster target: each cluster's start (not counted in any figure), ms. */
    clusterStartMs?: number[];
    /** Cluster target: the destroy of every applied stack through the API at the end (untimed in the rows), ms. */
    destroyMs?: number;
}

/**
 * The deployer's run timeout for the bench: N ups of `local` at once on two shared cores take longer than the
 * default 30 minutes; a run that still times out is a figure to report, not to wait for.
 */
const runTimeoutSeconds = "10800";

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
            X1_DEPLOYER_RUN_TIMEOUT_SECONDS: runTimeoutSeconds,
            X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS: runTimeoutSeconds,
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
    const url = `http://127.0.0.1:${port}`;
    const token = readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
    return {
        url,
        token,
        client: new DeployerClient(url, token),
        rssMiB: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? NaN) / 1024,
        envOf: (name) =>
            readFileSync(`/proc/${child.pid}/environ`, "utf8")
                .split("\0")
                .find((e) => e.startsWith(`${name}=`))
                ?.slice(name.length + 1),
        stop: async () => {
            if (child.exitCode === null) child.kill("SIGTERM");
            await Promise.race([exited, sleep(30_000)]);
            if (child.exitCode === null) child.kill("SIGKILL");
        },
    };
}

/** Points a stack at a cluster through the API: its config with `cluster.kubeconfig` replaced, on the revision it was read at. */
async function pointAtCluster(svc: Service, stack: string, kubeconfig: string): Promise<void> {
    const detail = await svc.client.call<{ config: Record<string, any>; revision: string }>("GET", `/v1/stacks/${stack}`);
    const config = { ...detail.config, cluster: { ...detail.config.cluster, kubeconfig } };
    await svc.client.call("PUT", `/v1/stacks/${stack}/config`, { config, revision: detail.revision });
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
    runs: RunFigures[];
    rss: RssWindow;
    load: { start: number; end: number };
}

/** N runs posted at once, each followed to its end; the deployer's RSS sampled meanwhile. Throws if any did not succeed. */
async function batch(svc: Service, stacks: string[], operation: "preview" | "up" | "destroy" = "preview"): Promise<Batch> {
    const load = { start: loadAverage()[0], end: NaN };
    const rss: RssWindow = { startMiB: svc.rssMiB(), peakMiB: 0, endMiB: NaN };
    rss.peakMiB = rss.startMiB;
    const sampler = setInterval(() => {
        rss.peakMiB = Math.max(rss.peakMiB, svc.rssMiB());
    }, 250);
    const t0 = performance.now();
    let results: (RunFigures & { end: number; status: string; error?: string })[];
    try {
        results = await Promise.all(
            stacks.map(async (stack) => {
                const sent = performance.now();
                // A destroy names the stack again, as the API asks of every destroy.
                const r = await svc.client.call<{ run: { id: string } }>("POST", `/v1/stacks/${stack}/runs`, {
                    operation,
                    ...(operation === "destroy" ? { confirm: stack } : {}),
                });
                const f = await follow(svc, r.run.id);
                const { run } = await svc.client.call<{
                    run: {
                        status: string;
                        error?: string | null;
                        startedAt: string | null;
                        finishedAt: string | null;
                        counts: Record<string, number> | null;
                        policy: { applied: boolean; mandatory: number } | null;
                    };
                }>("GET", `/v1/runs/${r.run.id}`);
                return {
                    stack,
                    requestToEndMs: f.end - sent,
                    runMs: run.startedAt && run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : NaN,
                    firstEventMs: (f.firstEvent ?? f.end) - sent,
                    firstResourceMs: (f.firstResource ?? f.end) - sent,
                    counts: run.counts,
                    policy: run.policy ? { applied: run.policy.applied, mandatory: run.policy.mandatory } : null,
                    end: f.end,
                    status: run.status,
                    error: run.error ?? undefined,
                };
            }),
        );
    } finally {
        clearInterval(sampler);
    }
    rss.endMiB = svc.rssMiB();
    rss.peakMiB = Math.max(rss.peakMiB, rss.endMiB);
    load.end = loadAverage()[0];
    const failed = results.filter((r) => r.status !== "succeeded");
    // A failed run is not a throughput figure: stop with the reason.
    if (failed.length > 0)
        throw new Error(
            `deployer ${operation}(s) did not succeed: ${failed.map((r) => `${r.stack} ${r.status}: ${r.error ?? "no error recorded"}`).join("; ")}`,
        );
    return {
        batchMs: Math.max(...results.map((r) => r.end)) - t0,
        runs: results.map(({ end: _end, status: _status, error: _error, ...figures }) => figures),
        rss,
        load,
    };
}

const changed = (counts: Record<string, number> | null) => (counts ? Object.entries(counts).reduce((a, [k, v]) => a + (k === "same" ? 0 : v), 0) : 0);

/** `total` previews, `concurrency` at once, a new one as each ends; the deployer's RSS after each. */
async function soak(svc: Service, stacks: string[], total: number, log: (s: string) => void): Promise<SoakResult> {
    const startRssMiB = svc.rssMiB();
    const loadStart = loadAverage()[0];
    const rssMiB: number[] = [];
    let changedRuns = 0;
    let next = 0;
    const t0 = performance.now();
    const lane = async (stack: string) => {
        while (next < total) {
            next++;
            const b = await batch(svc, [stack]);
            if (changed(b.runs[0]!.counts) > 0) changedRuns++;
            rssMiB.push(svc.rssMiB());
            if (rssMiB.length % 10 === 0 || rssMiB.length === total)
                log(`  deployer soak: ${rssMiB.length}/${total} runs, RSS ${rssMiB[rssMiB.length - 1]!.toFixed(0)} MiB`);
        }
    };
    await Promise.all(stacks.map(lane));
    const minutes = (performance.now() - t0) / 60_000;
    return {
        operation: "preview",
        runs: rssMiB.length,
        concurrency: stacks.length,
        startRssMiB,
        rssMiB,
        secondHalfSlopeKiBPerRun: slope(rssMiB.slice(Math.floor(rssMiB.length / 2))) * 1024,
        runsPerMinute: rssMiB.length / minutes,
        changedRuns,
        load: { start: loadStart, end: loadAverage()[0] },
    };
}

export interface DeployerOptions {
    /** Stacks run at once, per row. */
    counts: number[];
    /** Batches per row. */
    runs: number;
    /**
     * preview, or up (each timed batch of ups starts from empty stacks: a destroy batch, untimed, follows it,
     * except after the last batch on the cluster target, whose stacks the soak previews).
     */
    operation: "preview" | "up";
    /** Previews after the rows, the deployer's memory read after each (0: none). */
    soak: number;
    /** `render` copies, or copies of `local` each on a fresh local cluster of its own (module doc). */
    target: DeployerTarget;
}

export async function benchDeployer(o: DeployerOptions, log: (s: string) => void): Promise<DeployerResult> {
    const { counts, runs, operation, target } = o;
    if (target === "cluster" && operation !== "up") throw new Error("the deployer's cluster target applies its stacks: its operation is up");
    const dir = mkdtempSync(path.join(tmpdir(), "x1-bench-deployer-"));
    const maxN = Math.max(...counts);
    const names = Array.from({ length: maxN }, (_, i) => `bench-deployer-${i + 1}`);
    const clusters = target === "cluster" ? names.map((_, i) => new BenchCluster(path.join(projectRoot, ".x1", `bench-deployer-cluster-${i + 1}`))) : [];
    let svc: Service | undefined;
    const rows: DeployerRow[] = [];
    let soakResult: SoakResult | undefined;
    const clusterStartMs: number[] = [];
    let destroyMs: number | undefined;
    let idleRssMiB: number | undefined;
    /** Stacks whose resources are up now (the cluster target keeps the last batch's for the soak). */
    let applied: string[] = [];
    try {
        for (const [i, c] of clusters.entries()) {
            clusterStartMs.push(await c.fresh());
            log(`  cluster ${i + 1}/${clusters.length} (${path.relative(projectRoot, c.dir)}) started in ${(clusterStartMs[i]! / 1000).toFixed(0)} s`);
        }
        svc = await startDeployer(dir, maxN, log);
        idleRssMiB = svc.rssMiB();
        if (target === "cluster") {
            // The add-ons' charts come from the mirror on a machine without network: it must reach the engine's environment.
            const mirror = svc.envOf("X1_CHART_MIRROR");
            log(`  deployer's X1_CHART_MIRROR: ${mirror ?? "(unset: every chart from its upstream repository)"}`);
        }
        for (const [i, name] of names.entries()) {
            await svc.client.call("POST", "/v1/stacks", { name, from: target === "cluster" ? "local" : "render", team: "bench" });
            if (clusters[i]) await pointAtCluster(svc, name, clusters[i].kubeconfig);
        }
        // Warm-up (not counted): the first run initializes the database's tables and the CLI's plugin cache.
        const warm = await batch(svc, names.slice(0, 1));
        log(
            `  warm-up preview of ${names[0]} (not counted): ${(warm.batchMs / 1000).toFixed(0)} s, deployer RSS ${idleRssMiB.toFixed(0)} -> ${warm.rss.endMiB.toFixed(0)} MiB`,
        );
        for (const [r, n] of counts.entries()) {
            const b: Batch[] = [];
            for (let i = 0; i < runs; i++) {
                const x = await batch(svc, names.slice(0, n), operation);
                if (operation === "up") applied = names.slice(0, n);
                b.push(x);
                log(
                    `  deployer ${n} stack(s) ${operation} at once, run ${i + 1}/${runs}: ${x.batchMs.toFixed(0)} ms, ` +
                        `first engine event after ${x.runs.map((y) => y.firstEventMs.toFixed(0)).join("/")} ms, ` +
                        `first resource event after ${x.runs.map((y) => y.firstResourceMs.toFixed(0)).join("/")} ms; ` +
                        `RSS ${x.rss.startMiB.toFixed(0)}/${x.rss.peakMiB.toFixed(0)}/${x.rss.endMiB.toFixed(0)} MiB (start/peak/end), load ${x.load.start}..${x.load.end}`,
                );
                for (const y of x.runs)
                    log(`    ${y.stack}: ${(y.runMs / 1000).toFixed(1)} s in the deployer, ${JSON.stringify(y.counts)}, policy ${JSON.stringify(y.policy)}`);
                // The next batch of ups starts from empty stacks again (untimed); the cluster target's last one stays for the soak.
                const last = r === counts.length - 1 && i === runs - 1;
                if (operation === "up" && !(target === "cluster" && last)) {
                    await batch(svc, applied, "destroy");
                    applied = [];
                }
            }
            rows.push({
                stacks: n,
                runsPerMinute: summarize(b.map((x) => (n / x.batchMs) * 60_000)),
                batchMs: summarize(b.map((x) => x.batchMs)),
                firstEventMs: summarize(b.flatMap((x) => x.runs.map((y) => y.firstEventMs))),
                firstResourceMs: summarize(b.flatMap((x) => x.runs.map((y) => y.firstResourceMs))),
                requestToEndMs: summarize(b.flatMap((x) => x.runs.map((y) => y.requestToEndMs))),
                rssMiB: b.map((x) => x.rss),
                load: b.map((x) => x.load),
                runs: b.flatMap((x) => x.runs),
            });
        }
        if (o.soak > 0) {
            soakResult = await soak(svc, target === "cluster" ? applied : names, o.soak, log);
            if (soakResult.changedRuns > 0) log(`  WARNING: ${soakResult.changedRuns} soak preview(s) reported changes: not no-change previews`);
        }
        if (applied.length > 0) {
            // Untimed: the clusters are left empty through the API, as a user would leave them.
            const d = await batch(svc, applied, "destroy");
            applied = [];
            destroyMs = d.batchMs;
            log(`  destroyed ${d.runs.length} stack(s) through the API in ${(d.batchMs / 1000).toFixed(0)} s`);
            for (const c of clusters) {
                const left = (await c.kubectl(["get", "namespaces", "-o", "name"])).split("\n").filter((l) => l && !builtinNamespaces.has(l));
                if (left.length) log(`  WARNING: ${path.relative(projectRoot, c.dir)} still has ${left.join(", ")} after the destroy`);
            }
        }
    } finally {
        await svc?.stop();
        for (const c of clusters) await c.purge().catch((err: Error) => log(`  could not purge ${c.dir}: ${err.message}`));
        for (const name of names) rmSync(path.join(stacksDir, `Pulumi.${name}.yaml`), { force: true });
        rmSync(dir, { recursive: true, force: true });
    }
    return {
        target,
        operation,
        ...(idleRssMiB !== undefined ? { idleRssMiB } : {}),
        rows,
        ...(soakResult ? { soak: soakResult } : {}),
        ...(target === "cluster" ? { clusterStartMs, destroyMs } : {}),
    };
}

/** The namespaces a fresh cluster has before anything is applied. */
const builtinNamespaces = new Set(["namespace/default", "namespace/kube-system", "namespace/kube-public", "namespace/kube-node-lease"]);

const ms = (s: Summary) => fmt(s, 0);
const mib = (x: number) => x.toFixed(0);

/** The deployer part of `npm run bench`'s report: the table, each run, the clusters, the soak. */
export function formatDeployer(r: DeployerResult): string {
    const what = r.target === "cluster" ? "copies of local, each applied to a fresh local cluster of its own" : "copies of render";
    const out = [
        `\n(4) Deployer: N stacks (${what}), ${r.operation} at once over the HTTP API (median (min–max))\n`,
        table([
            [
                "stacks at once",
                "runs/minute",
                "batch ms",
                "request -> first event ms",
                "request -> first resource event ms",
                "request -> run end ms",
                "RSS MiB start/peak/end",
                "load start..end",
            ],
            ...r.rows.map((x) => [
                String(x.stacks),
                fmt(x.runsPerMinute, 1),
                ms(x.batchMs),
                ms(x.firstEventMs),
                ms(x.firstResourceMs),
                ms(x.requestToEndMs),
                x.rssMiB.map((w) => `${mib(w.startMiB)}/${mib(w.peakMiB)}/${mib(w.endMiB)}`).join(", "),
                x.load.map((l) => `${l.start.toFixed(1)}..${l.end.toFixed(1)}`).join(", "),
            ]),
        ]),
    ];
    if (r.idleRssMiB !== undefined) out.push(`\nthe deployer's RSS once listening, before any run: ${mib(r.idleRssMiB)} MiB`);
    for (const x of r.rows) {
        out.push(`\n${x.stacks} at once, each run (s in the deployer, changes, policy pack):`);
        for (const y of x.runs) {
            const counts = y.counts
                ? Object.entries(y.counts)
                      .map(([k, v]) => `${k} ${v}`)
                      .join(", ")
                : "no counts";
            const policy = y.policy ? (y.policy.applied ? `applied, ${y.policy.mandatory} mandatory` : "not applied") : "no record";
            out.push(`  ${y.stack}: ${(y.runMs / 1000).toFixed(1)} s; ${counts}; policy ${policy}`);
        }
    }
    if (r.clusterStartMs)
        out.push(
            `\nclusters started one after another before the runs (not counted): ${r.clusterStartMs.map((t) => (t / 1000).toFixed(0)).join(", ")} s; ` +
                `destroy of every stack through the API at the end (untimed): ${r.destroyMs !== undefined ? `${(r.destroyMs / 1000).toFixed(0)} s` : "-"}`,
        );
    if (r.soak) {
        const s = r.soak;
        // RSS after these runs, those the soak reached (and its last).
        const marks = [...new Set([1, 10, 25, 50, 75, s.runs].filter((i) => i >= 1 && i <= s.runs))].sort((a, b) => a - b);
        const half = s.runs - Math.floor(s.runs / 2);
        out.push(
            `\ndeployer memory across ${s.runs} more ${s.operation} runs (${s.concurrency} at once${r.target === "cluster" ? ", no-change previews of the applied stacks against their clusters" : ""}): ` +
                `RSS before them ${mib(s.startRssMiB)} MiB; after run ${marks.map((i) => `${i} ${mib(s.rssMiB[i - 1]!)}`).join(", ")} MiB; ` +
                `min ${mib(Math.min(...s.rssMiB))}, max ${mib(Math.max(...s.rssMiB))} MiB; ` +
                `slope over the second half (${half} runs) ${s.secondHalfSlopeKiBPerRun.toFixed(1)} KiB/run${half < 10 ? " (too few runs to read a trend)" : ""}; ` +
                `${s.runsPerMinute.toFixed(1)} runs/minute; ${s.changedRuns} run(s) with changes; load ${s.load.start.toFixed(1)}..${s.load.end.toFixed(1)}`,
        );
    }
    return out.join("\n");
}
