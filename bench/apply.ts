/**
 * (5) What users wait for: `up` of the `local` stack (every add-on from its
 * chart, X1_CHART_MIRROR) with n workspaces against a fresh local cluster
 * (scripts/cluster.sh, in a state folder of the bench's own), a no-change
 * second `up` and `destroy`, through runOperation as `x1 up` and the
 * deployer run them; against the floor: the same objects (taken from the
 * state ours wrote, secrets decrypted) applied with
 * `kubectl apply --server-side` in dependency order (CRDs, wait
 * Established; namespaces; the rest in Helm's install order), waiting for
 * the readiness the provider waits for (Deployments Available,
 * StatefulSets and DaemonSets rolled out, Jobs complete), applied again, and
 * deleted (the rest, namespaces, CRDs, each waiting until gone), on a fresh
 * cluster of its own. The state backend is a file backend in a temp folder,
 * or the CLI's `postgres://` backend in a database of its own on the test
 * PostgreSQL (X1_TEST_POSTGRES_URL).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { stringify } from "yaml";
import { projectRoot } from "../runtime/engine/project";
import { type ChangeCounts, prepareStack, pulumiCommand, runOperation } from "../runtime/engine/stack-runner";
import { engineScratch } from "./preview";
import { formatProfile, type ProfileSummary, summarizeProfile } from "./profile";
import { writeApplyStack, writeBenchStack } from "./stack-config";
import { childrenCpuMs, loadAverage } from "./stats";

export type Backend = "file" | "postgres";
export const backends: readonly Backend[] = ["file", "postgres"];

/** One timed phase: wall and CPU (of every process it started and waited for). */
export interface Phase {
    wallMs: number;
    cpuMs: number;
    /** 1-minute load average when the phase ended (the machine is shared). */
    load: number;
    counts?: ChangeCounts;
}

export interface OursRun {
    workspaces: number;
    backend: Backend;
    parallel?: number;
    /** The first `up` ran with the profilers on (its figure carries their cost). */
    profiled?: boolean;
    /** Resources in the stack (the stack and component resources included). */
    resources: number;
    /** Size of the state after `up` (the checkpoint each step rewrites), bytes of compact JSON. */
    stateBytes: number;
    /** What that state is made of: bytes per resource type (the largest first). */
    stateByType: { type: string; resources: number; bytes: number }[];
    up: Phase;
    /** Not run with `upOnly`. */
    upAgain?: Phase;
    destroy?: Phase;
    clusterStartMs: number;
}

export interface FloorRun {
    workspaces: number;
    /** Kubernetes objects applied: CRDs, namespaces, the rest. */
    objects: { crds: number; namespaces: number; rest: number };
    apply: Phase;
    applyAgain: Phase;
    delete: Phase;
    clusterStartMs: number;
}

export interface ApplyRow {
    workspaces: number;
    ours: OursRun;
    floor?: FloorRun;
    /** ours / floor, wall time, per phase. */
    ratio?: { up: number; upAgain?: number; destroy?: number };
}

export interface ApplyBench {
    rows: ApplyRow[];
    /** Ours on other backends (no floor: it has no state). */
    backendRuns: OursRun[];
    /** Wall time per workspace of `up` at the largest size over that at the next size down (1.00 = linear). */
    growth?: { from: number; to: number; ratio: number; marginalRatio?: number };
    profile?: UpProfile;
}

interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs a command to its end; output kept in memory (kubectl's and the cluster script's are small). */
function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { cwd: options.cwd ?? projectRoot, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(options.input ?? "");
    });
}

async function must(file: string, args: string[], options: Parameters<typeof run>[2] = {}): Promise<string> {
    const r = await run(file, args, options);
    if (r.code !== 0)
        throw new Error(`${path.basename(file)} ${args.join(" ")} exited ${r.code}:\n${(r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n")}`);
    return r.stdout;
}

const toolchainBin = () => path.join(process.env.X1_TOOLCHAIN_DIR ?? path.join(projectRoot, ".pulumi-toolchain"), "bin");

/** The bench's own local cluster (scripts/cluster.sh with X1_CLUSTER_DIR), never the user's. */
export class BenchCluster {
    readonly dir: string;
    readonly kubeconfig: string;

    constructor(dir: string) {
        this.dir = dir;
        this.kubeconfig = path.join(dir, "kubeconfig");
    }

    private script(command: string): Promise<string> {
        return must("bash", [path.join(projectRoot, "scripts", "cluster.sh"), command], { env: { ...process.env, X1_CLUSTER_DIR: this.dir } });
    }

    /** Purges what is there and starts a fresh cluster; returns the start time (ms), which no figure counts. */
    async fresh(): Promise<number> {
        await this.script("purge");
        const t = performance.now();
        await this.script("up");
        return performance.now() - t;
    }

    async purge(): Promise<void> {
        await this.script("purge");
    }

    kubectl(args: string[], input?: string): Promise<string> {
        return must(path.join(toolchainBin(), "kubectl"), ["--kubeconfig", this.kubeconfig, "--context", "x1agent-local", ...args], { input });
    }
}

async function timed(what: () => Promise<ChangeCounts | undefined>): Promise<Phase> {
    const cpu = childrenCpuMs();
    const t = performance.now();
    const counts = await what();
    return { wallMs: performance.now() - t, cpuMs: childrenCpuMs() - cpu, load: loadAverage()[0], ...(counts ? { counts } : {}) };
}

/** A database of the bench's own on the test PostgreSQL, for the CLI's postgres:// backend; dropped by `drop`. */
async function postgresBackend(log: (s: string) => void): Promise<{ url: string; drop: () => Promise<void> }> {
    const admin = process.env.X1_TEST_POSTGRES_URL;
    if (!admin) throw new Error("the postgres backend needs X1_TEST_POSTGRES_URL (a PostgreSQL URL whose user may create databases)");
    const database = "x1_bench_state";
    const exec = async (sql: string) => {
        const c = new pg.Client({ connectionString: admin });
        await c.connect();
        try {
            await c.query(sql);
        } finally {
            await c.end();
        }
    };
    await exec(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await exec(`CREATE DATABASE ${database}`);
    const url = new URL(admin);
    url.pathname = `/${database}`;
    url.searchParams.set("sslmode", url.searchParams.get("sslmode") ?? "disable");
    log(`  postgres backend: database ${database} on ${url.host}`);
    return { url: url.toString(), drop: () => exec(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`) };
}

/** The stack's state with secrets in plaintext (the bench stacks hold none of a user's). */
async function exportState(stackName: string, env: Record<string, string>): Promise<ExportedState> {
    const cmd = await pulumiCommand();
    return parseExport(await must(cmd.command, ["stack", "export", "--show-secrets", "--stack", stackName], { env: { ...process.env, ...env } }));
}

export interface ExportedState {
    /** Bytes of the deployment as compact JSON, as a checkpoint holds it (`stack export` indents it, 3-4x larger). */
    bytes: number;
    resources: StateResource[];
}

/** Reads `pulumi stack export` output. */
export function parseExport(text: string): ExportedState {
    const doc = JSON.parse(text) as { deployment: { resources?: StateResource[] } };
    return { bytes: Buffer.byteLength(JSON.stringify(doc.deployment)), resources: doc.deployment.resources ?? [] };
}

/** Bytes of the state per resource type, the largest first. */
export function stateByType(resources: StateResource[]): OursRun["stateByType"] {
    const by = new Map<string, { resources: number; bytes: number }>();
    for (const r of resources) {
        const t = by.get(r.type) ?? { resources: 0, bytes: 0 };
        t.resources++;
        t.bytes += Buffer.byteLength(JSON.stringify(r));
        by.set(r.type, t);
    }
    return [...by.entries()].map(([type, v]) => ({ type, ...v })).sort((a, b) => b.bytes - a.bytes);
}

export interface StateResource {
    urn: string;
    type: string;
    custom?: boolean;
    delete?: boolean;
    inputs?: Record<string, unknown>;
}

const secretSig = "4dabf18193072939515e22adb298388d";

/** A state value with its secrets replaced by their plaintext (`--show-secrets` keeps them JSON-encoded). */
function unwrap(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(unwrap);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[secretSig] === "1b47061264138c4ac30d75fd1eb44270") {
            if (typeof o.plaintext !== "string") throw new Error("a secret in the exported state is not in plaintext (export with --show-secrets)");
            return unwrap(JSON.parse(o.plaintext));
        }
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrap(x)]));
    }
    return v;
}

/**
 * Helm's install order of kinds (helm/pkg/release/util/kind_sorter.go): what
 * a workload needs (ServiceAccounts, Secrets, ConfigMaps, RBAC, Services)
 * exists before the workload, so no controller starts a pod that fails.
 */
const installOrder = [
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

export interface FloorManifests {
    crds: Record<string, unknown>[];
    namespaces: Record<string, unknown>[];
    rest: Record<string, unknown>[];
}

/** The Kubernetes objects of a state, as ours applied them (their inputs), in the floor's three groups. */
export function floorManifests(resources: StateResource[]): FloorManifests {
    const objects = resources
        .filter((r) => r.custom && !r.delete && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:") && r.inputs)
        .map((r) => {
            const o = unwrap(r.inputs) as Record<string, unknown>;
            // Keys the provider keeps next to the object (none is part of it).
            for (const k of Object.keys(o)) if (k.startsWith("__")) delete o[k];
            return o;
        });
    const rank = (o: Record<string, unknown>) => {
        const i = installOrder.indexOf(String(o.kind));
        return i < 0 ? installOrder.length : i;
    };
    const crds = objects.filter((o) => o.kind === "CustomResourceDefinition");
    const namespaces = objects.filter((o) => o.kind === "Namespace");
    const rest = objects.filter((o) => o.kind !== "CustomResourceDefinition" && o.kind !== "Namespace").sort((a, b) => rank(a) - rank(b));
    return { crds, namespaces, rest };
}

const toYaml = (objects: Record<string, unknown>[]) => objects.map((o) => stringify(o)).join("---\n");

const key = (o: Record<string, unknown>) => {
    const m = o.metadata as { name: string; namespace?: string };
    return { kind: String(o.kind), name: m.name, namespace: m.namespace };
};

/** Waits for the readiness the Kubernetes provider awaits on create, for the workloads in `rest`. */
async function waitReady(cluster: BenchCluster, rest: Record<string, unknown>[]): Promise<void> {
    const timeout = "--timeout=900s";
    const waits: Promise<unknown>[] = [];
    for (const o of rest) {
        const { kind, name, namespace } = key(o);
        const ns = namespace ? ["-n", namespace] : [];
        if (kind === "Deployment") waits.push(cluster.kubectl(["wait", "--for=condition=Available", `deployment/${name}`, ...ns, timeout]));
        else if (kind === "StatefulSet" || kind === "DaemonSet")
            waits.push(cluster.kubectl(["rollout", "status", `${kind.toLowerCase()}/${name}`, ...ns, timeout]));
        else if (kind === "Job") waits.push(cluster.kubectl(["wait", "--for=condition=Complete", `job/${name}`, ...ns, timeout]));
    }
    await Promise.all(waits);
}

/** The floor on a fresh cluster: apply in dependency order and wait, apply again, delete. */
export async function floorRun(cluster: BenchCluster, scratch: string, n: number, m: FloorManifests, log: (s: string) => void): Promise<FloorRun> {
    const dir = path.join(scratch, `floor-${n}`);
    mkdirSync(dir, { recursive: true });
    const files = { crds: path.join(dir, "1-crds.yaml"), namespaces: path.join(dir, "2-namespaces.yaml"), rest: path.join(dir, "3-rest.yaml") };
    writeFileSync(files.crds, toYaml(m.crds));
    writeFileSync(files.namespaces, toYaml(m.namespaces));
    writeFileSync(files.rest, toYaml(m.rest));
    const clusterStartMs = await cluster.fresh();
    const apply = async () => {
        if (m.crds.length) {
            await cluster.kubectl(["apply", "--server-side", "-f", files.crds]);
            await cluster.kubectl(["wait", "--for=condition=Established", "crd", "--all", "--timeout=300s"]);
        }
        await cluster.kubectl(["apply", "--server-side", "-f", files.namespaces]);
        await cluster.kubectl(["apply", "--server-side", "-f", files.rest]);
        await waitReady(cluster, m.rest);
        return undefined;
    };
    const first = await timed(apply);
    log(`  floor ${n} workspaces: kubectl apply --server-side + waits ${first.wallMs.toFixed(0)} ms (load ${first.load})`);
    const again = await timed(apply);
    log(`  floor ${n} workspaces: applied again ${again.wallMs.toFixed(0)} ms`);
    const del = await timed(async () => {
        await cluster.kubectl(["delete", "--wait=true", "--ignore-not-found", "--timeout=900s", "-f", files.rest]);
        await cluster.kubectl(["delete", "--wait=true", "--ignore-not-found", "--timeout=900s", "-f", files.namespaces]);
        if (m.crds.length) await cluster.kubectl(["delete", "--wait=true", "--ignore-not-found", "--timeout=900s", "-f", files.crds]);
        return undefined;
    });
    log(`  floor ${n} workspaces: deleted ${del.wallMs.toFixed(0)} ms`);
    return {
        workspaces: n,
        objects: { crds: m.crds.length, namespaces: m.namespaces.length, rest: m.rest.length },
        apply: first,
        applyAgain: again,
        delete: del,
        clusterStartMs,
    };
}

const total = (c: ChangeCounts) => c.create + c.update + c.same + c.delete + c.replace;

/** Ours on a fresh cluster: up, up again (no change expected), destroy; returns the run and the floor's objects. */
export async function oursRun(
    cluster: BenchCluster | undefined,
    n: number,
    backend: Backend,
    options: { parallel?: number; wantManifests: boolean; upOnly?: boolean; profileDir?: string },
    log: (s: string) => void,
): Promise<{ run: OursRun; manifests?: FloorManifests; profile?: UpProfile }> {
    // No cluster: the render copy of the stack (the same engine, checkpoints and provider; manifests to a folder).
    const clusterStartMs = cluster ? await cluster.fresh() : 0;
    const stack = cluster ? writeApplyStack(n, cluster.kubeconfig) : writeBenchStack(n);
    try {
        const target = prepareStack(stack.name);
        const label = `ours ${n} workspaces (${backend}${options.parallel ? `, --parallel ${options.parallel}` : ""})`;
        const profiling = options.profileDir ? startProfiling(options.profileDir, target.env) : undefined;
        let up: Phase;
        try {
            up = await timed(async () => (await runOperation(target, "up", { parallel: options.parallel })).counts);
        } finally {
            profiling?.restore();
        }
        const profile = options.profileDir ? await readProfile(options.profileDir, n, up) : undefined;
        if (profile) log(formatUpProfile(profile));
        log(
            `  ${label}${profile ? " (profiled)" : ""}: up ${up.wallMs.toFixed(0)} ms (CPU ${up.cpuMs.toFixed(0)} ms, load ${up.load}) ${JSON.stringify(up.counts)}`,
        );
        if (options.upOnly) {
            const state = await exportState(stack.name, target.env);
            return {
                manifests: options.wantManifests ? floorManifests(state.resources) : undefined,
                run: {
                    workspaces: n,
                    backend,
                    ...(options.parallel ? { parallel: options.parallel } : {}),
                    ...(profile ? { profiled: true } : {}),
                    resources: state.resources.length,
                    stateBytes: state.bytes,
                    stateByType: stateByType(state.resources),
                    up,
                    clusterStartMs,
                },
                profile,
            };
        }
        const upAgain = await timed(async () => (await runOperation(target, "up", { parallel: options.parallel })).counts);
        log(`  ${label}: up again ${upAgain.wallMs.toFixed(0)} ms ${JSON.stringify(upAgain.counts)}`);
        const changed = upAgain.counts ? total(upAgain.counts) - upAgain.counts.same : 0;
        if (changed > 0) log(`  WARNING: the second up changed ${changed} resources: it is not a no-change up`);
        const state = await exportState(stack.name, target.env);
        const manifests = options.wantManifests ? floorManifests(state.resources) : undefined;
        const destroy = await timed(async () => (await runOperation(target, "destroy", { parallel: options.parallel })).counts);
        log(`  ${label}: destroy ${destroy.wallMs.toFixed(0)} ms`);
        // The stack is empty now; its record goes with the scratch backend.
        return {
            run: {
                workspaces: n,
                backend,
                ...(options.parallel ? { parallel: options.parallel } : {}),
                ...(profile ? { profiled: true } : {}),
                resources: state.resources.length,
                stateBytes: state.bytes,
                stateByType: stateByType(state.resources),
                up,
                upAgain,
                destroy,
                clusterStartMs,
            },
            manifests,
            profile,
        };
    } finally {
        stack.remove();
    }
}

export interface ApplyOptions {
    sizes: number[];
    /** Backends besides file to run ours on, at `backendSizes`. */
    backends: Backend[];
    backendSizes: number[];
    parallel?: number;
    /**
     * `cluster` (default): the local stack applied to a fresh local cluster, and the floor. `render`: no
     * cluster, ours only, on the render copy of the stack (engine, checkpoints and provider, manifests
     * to a folder): for the state backends and profiles where no cluster can be had.
     */
    target: "cluster" | "render";
    /**
     * Ours' first `up` only (no second up or destroy): before/after figures of a change, and the largest
     * size where the whole cycle takes too long. The floor still runs with `floor`, for the up's ratio.
     */
    upOnly?: boolean;
    /** With `upOnly` on the cluster: the floor too (its apply, again and delete), for ours/floor of `up`. */
    floor?: boolean;
    /** Profile ours' first `up` at this size (CLI pprof, program --cpu-prof, provider calls' timings); its figures then carry the profilers. */
    profileSize?: number;
}

/**
 * The apply table: per size, ours (file backend) and the floor, each on a fresh cluster; then other backends.
 * `progress` gets what is measured so far after each size and each backend run, so a long run that fails
 * late keeps its earlier figures.
 */
export async function benchApply(o: ApplyOptions, log: (s: string) => void, progress?: (partial: ApplyBench) => void): Promise<ApplyBench> {
    const scratch = engineScratch("apply");
    const cluster = o.target === "cluster" ? new BenchCluster(path.join(projectRoot, ".x1", "bench-cluster")) : undefined;
    const fileBackend = process.env.PULUMI_BACKEND_URL!;
    const rows: ApplyRow[] = [];
    const backendRuns: OursRun[] = [];
    let profile: UpProfile | undefined;
    try {
        for (const n of o.sizes) {
            process.env.PULUMI_BACKEND_URL = fileBackend;
            const profileDir = n === o.profileSize ? path.join(scratch.dir, `profile-${n}`) : undefined;
            const {
                run: ours,
                manifests,
                profile: p,
            } = await oursRun(
                cluster,
                n,
                "file",
                { parallel: o.parallel, wantManifests: cluster !== undefined && (!o.upOnly || o.floor === true), upOnly: o.upOnly, profileDir },
                log,
            );
            if (p) profile = p;
            if (!cluster || !manifests) {
                rows.push({ workspaces: n, ours });
                progress?.({ rows, backendRuns, growth: applyGrowth(rows), profile });
                continue;
            }
            const floor = await floorRun(cluster, scratch.dir, n, manifests, log);
            rows.push({
                workspaces: n,
                ours,
                floor,
                ratio: {
                    up: ours.up.wallMs / floor.apply.wallMs,
                    ...(ours.upAgain ? { upAgain: ours.upAgain.wallMs / floor.applyAgain.wallMs } : {}),
                    ...(ours.destroy ? { destroy: ours.destroy.wallMs / floor.delete.wallMs } : {}),
                },
            });
            progress?.({ rows, backendRuns, growth: applyGrowth(rows), profile });
        }
        for (const b of o.backends.filter((x) => x !== "file")) {
            const pg = await postgresBackend(log);
            try {
                process.env.PULUMI_BACKEND_URL = pg.url;
                for (const n of o.backendSizes) {
                    backendRuns.push((await oursRun(cluster, n, b, { parallel: o.parallel, wantManifests: false, upOnly: o.upOnly }, log)).run);
                    progress?.({ rows, backendRuns, growth: applyGrowth(rows), profile });
                }
            } finally {
                process.env.PULUMI_BACKEND_URL = fileBackend;
                await pg.drop();
            }
        }
    } finally {
        process.env.PULUMI_BACKEND_URL = fileBackend;
        await cluster?.purge().catch((err: Error) => log(`  could not purge the bench cluster: ${err.message}`));
        scratch.cleanup();
    }
    return { rows, backendRuns, growth: applyGrowth(rows), profile };
}

/**
 * Growth of `up` between the two largest sizes: time per workspace at the largest over that at the next
 * size down (1.00 = linear), and, with three sizes, the cost of each added workspace between the two
 * largest over that between the two below (the stack's fixed part, the add-ons, taken out).
 */
export function applyGrowth(rows: ApplyRow[]): ApplyBench["growth"] {
    const sorted = [...rows].sort((a, b) => a.workspaces - b.workspaces);
    if (sorted.length < 2) return undefined;
    const to = sorted[sorted.length - 1]!;
    const from = sorted[sorted.length - 2]!;
    const per = (r: ApplyRow) => r.ours.up.wallMs / r.workspaces;
    const growth: NonNullable<ApplyBench["growth"]> = { from: from.workspaces, to: to.workspaces, ratio: per(to) / per(from) };
    if (sorted.length >= 3) {
        const below = sorted[sorted.length - 3]!;
        const slope = (a: ApplyRow, b: ApplyRow) => (b.ours.up.wallMs - a.ours.up.wallMs) / (b.workspaces - a.workspaces);
        growth.marginalRatio = slope(from, to) / slope(below, from);
    }
    return growth;
}

// ---- where an up's time goes -------------------------------------------------------------------

/** Provider calls of one `up`, from the engine's gRPC debug log (PULUMI_DEBUG_GRPC). */
export interface ProviderCalls {
    /** Per method: calls, summed duration (ms). */
    methods: { method: string; calls: number; ms: number }[];
    /** Wall time during which at least one provider call was in flight (ms). */
    inFlightMs: number;
    /** Create calls of the kinds the provider awaits (workloads): their in-flight wall time, and the slowest. */
    awaited: { calls: number; inFlightMs: number; slowest: { urn: string; ms: number }[] };
    /** Median Create of the other kinds (no readiness wait): the cost of one apply. */
    otherCreateMedianMs: number;
}

export interface UpProfile {
    workspaces: number;
    wallMs: number;
    cpuMs: number;
    /** The CLI's own CPU profile (pprof, `pulumi --profiling`): cumulative CPU of the functions that say where it goes. */
    cli: { totalCpuMs: number; functions: { name: string; cumMs: number }[] } | { error: string };
    program?: ProfileSummary;
    provider?: ProviderCalls;
}

/** Kinds whose create the Kubernetes provider awaits beyond the API call (readiness). */
const awaitedKinds =
    /:(apps\/v1:(Deployment|StatefulSet|DaemonSet|ReplicaSet)|batch\/v1:Job|core\/v1:(Pod|Service|PersistentVolumeClaim)|networking\.k8s\.io\/v1:Ingress)::/;

function union(intervals: [number, number][]): number {
    const s = [...intervals].sort((a, b) => a[0] - b[0]);
    let total = 0;
    let cur: [number, number] | undefined;
    for (const [a, b] of s) {
        if (!cur || a > cur[1]) {
            if (cur) total += cur[1] - cur[0];
            cur = [a, b];
        } else cur[1] = Math.max(cur[1], b);
    }
    if (cur) total += cur[1] - cur[0];
    return total;
}

/** Reads the gRPC debug log: each completed provider call with its duration. */
export function providerCalls(file: string): ProviderCalls {
    const methods = new Map<string, { calls: number; ms: number }>();
    const all: [number, number][] = [];
    const awaited: [number, number][] = [];
    const slow: { urn: string; ms: number }[] = [];
    const otherCreates: number[] = [];
    for (const line of readFileSync(file, "utf8").split("\n")) {
        if (!line.includes("ResourceProvider/")) continue;
        let e: { method: string; progress?: string; timestamp: string; duration?: number; request?: { urn?: string } };
        try {
            e = JSON.parse(line);
        } catch {
            continue;
        }
        if (e.progress === "request_started" || e.duration === undefined) continue;
        const ms = e.duration / 1e6;
        const end = Date.parse(e.timestamp);
        const method = e.method.replace(/^\/pulumirpc\.ResourceProvider\//, "");
        const m = methods.get(method) ?? { calls: 0, ms: 0 };
        m.calls++;
        m.ms += ms;
        methods.set(method, m);
        all.push([end - ms, end]);
        if (method === "Create") {
            const urn = e.request?.urn ?? "";
            if (awaitedKinds.test(urn)) {
                awaited.push([end - ms, end]);
                slow.push({ urn, ms });
            } else otherCreates.push(ms);
        }
    }
    otherCreates.sort((a, b) => a - b);
    return {
        methods: [...methods.entries()].map(([method, v]) => ({ method, ...v })).sort((a, b) => b.ms - a.ms),
        inFlightMs: union(all),
        awaited: { calls: awaited.length, inFlightMs: union(awaited), slowest: slow.sort((a, b) => b.ms - a.ms).slice(0, 8) },
        otherCreateMedianMs: otherCreates[Math.floor(otherCreates.length / 2)] ?? 0,
    };
}

/** Functions of the CLI whose cumulative CPU says where its time goes. */
const cliFunctions = [
    "backend.(*SnapshotManager).saveSnapshot",
    "backend.(*SnapshotManager).Deployment",
    "stack.SerializeDeploymentWithMetadata",
    "snapshot.VerifyIntegrity",
    "diy.(*diyBackend).saveCheckpoint",
    "diy.backupTarget",
    "encoding/json.Marshal",
    "encoding/json.MarshalIndent",
    "deploy.(*resmon).RegisterResource",
    "deploy.(*stepExecutor).executeRegisterResourceSteps",
    "plugin.(*provider).Create",
    "plugin.(*provider).Check",
    "plugin.(*provider).Diff",
    "runtime.gcBgMarkWorker",
];

async function readPprof(prefix: string): Promise<UpProfile["cli"]> {
    const dir = path.dirname(prefix);
    const file = readdirSync(dir)
        .filter((f) => f.startsWith(path.basename(prefix)) && f.endsWith(".cpu"))
        .map((f) => path.join(dir, f))
        .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (!file) return { error: "the CLI wrote no CPU profile" };
    const r = await run("go", ["tool", "pprof", "-top", "-cum", "-nodecount=400", path.join(toolchainBin(), "pulumi"), file]);
    if (r.code !== 0) return { error: `go tool pprof failed: ${r.stderr.trim().split("\n").slice(-3).join(" ")}` };
    // "Duration: 301.2s, Total samples = 120.5s (40.0%)"
    const totalMatch = /Total samples = ([\d.]+)(ms|s|mins|hrs)/.exec(r.stdout);
    const unit = (v: string, u: string) => Number(v) * (u === "ms" ? 1 : u === "s" ? 1000 : u === "mins" ? 60_000 : 3_600_000);
    const functions: { name: string; cumMs: number }[] = [];
    for (const line of r.stdout.split("\n")) {
        // flat flat% sum% cum cum% name
        const m = /^\s*([\d.]+)(ms|s|mins|hrs)?\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)(ms|s|mins|hrs)?\s+[\d.]+%\s+(.+)$/.exec(line);
        if (!m) continue;
        const name = m[5]!.trim();
        const hit = cliFunctions.find((f) => name.endsWith(f));
        if (hit && !functions.some((x) => x.name === hit)) functions.push({ name: hit, cumMs: unit(m[3]!, m[4] ?? "s") });
    }
    return { totalCpuMs: totalMatch ? unit(totalMatch[1]!, totalMatch[2]!) : NaN, functions };
}

/**
 * Profiling for one `up` that runOperation starts as usual: a wrapper
 * `pulumi` (in a toolchain folder of its own, which pulumiCommand() then
 * finds) adds `--profiling` to `pulumi up`; the program runs under node
 * --cpu-prof; every provider call is logged with its duration
 * (PULUMI_DEBUG_GRPC). `restore` puts the toolchain and environment back.
 */
function startProfiling(dir: string, env: Record<string, string>): { restore: () => void } {
    mkdirSync(path.join(dir, "toolchain", "bin"), { recursive: true });
    const real = path.join(toolchainBin(), "pulumi");
    const wrapper = path.join(dir, "toolchain", "bin", "pulumi");
    writeFileSync(
        wrapper,
        `#!/bin/sh\n# Written by bench/apply.ts: the real CLI, with a CPU profile of \`up\`.\ncase "$1" in up) exec "${real}" "$@" --profiling "${path.join(dir, "cli")}" ;; *) exec "${real}" "$@" ;; esac\n`,
        { mode: 0o755 },
    );
    const saved = process.env.X1_TOOLCHAIN_DIR;
    process.env.X1_TOOLCHAIN_DIR = path.join(dir, "toolchain");
    env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${dir}`;
    env.PULUMI_DEBUG_GRPC = path.join(dir, "grpc.jsonl");
    return {
        restore: () => {
            if (saved === undefined) delete process.env.X1_TOOLCHAIN_DIR;
            else process.env.X1_TOOLCHAIN_DIR = saved;
            delete env.NODE_OPTIONS;
            delete env.PULUMI_DEBUG_GRPC;
        },
    };
}

/** Reads what startProfiling's `up` left in `dir`. */
async function readProfile(dir: string, n: number, up: Phase): Promise<UpProfile> {
    const program = readdirSync(dir)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => summarizeProfile(path.join(dir, f), 20))
        .sort((a, b) => b.totalMs - a.totalMs)[0];
    const grpc = path.join(dir, "grpc.jsonl");
    return {
        workspaces: n,
        wallMs: up.wallMs,
        cpuMs: up.cpuMs,
        cli: await readPprof(path.join(dir, "cli")),
        program,
        provider: existsSync(grpc) ? providerCalls(grpc) : undefined,
    };
}

export function formatUpProfile(p: UpProfile): string {
    const lines = [`one up at ${p.workspaces} workspaces, profiled: ${p.wallMs.toFixed(0)} ms wall, ${p.cpuMs.toFixed(0)} ms CPU in all processes`];
    if ("error" in p.cli) lines.push(`  CLI profile: ${p.cli.error}`);
    else {
        lines.push(`  CLI (pulumi) CPU ${p.cli.totalCpuMs.toFixed(0)} ms; cumulative:`);
        for (const f of p.cli.functions) lines.push(`    ${f.cumMs.toFixed(0).padStart(8)} ms  ${f.name}`);
    }
    if (p.provider) {
        const pc = p.provider;
        lines.push(
            `  provider calls in flight ${pc.inFlightMs.toFixed(0)} ms of the wall time; workload creates (readiness awaited) ${pc.awaited.calls}, in flight ${pc.awaited.inFlightMs.toFixed(0)} ms; median other create ${pc.otherCreateMedianMs.toFixed(0)} ms`,
        );
        for (const m of pc.methods) lines.push(`    ${m.method}: ${m.calls} calls, ${m.ms.toFixed(0)} ms summed`);
        for (const s of pc.awaited.slowest) lines.push(`    slowest workload create ${s.ms.toFixed(0)} ms  ${s.urn.split("::").pop()}`);
    }
    if (p.program) lines.push(`  the program (node --cpu-prof):\n${formatProfile(p.program)}`);
    return lines.join("\n");
}
