/**
 * `npm run bench`: how fast the program is, and how it grows.
 *
 *   (1) program construction under Pulumi mocks, 1/10/100/1000 workspaces
 *   (2) real preview of the local stack vs the engine floor, 1/10/100
 *   (3) policy pack evaluation per 1000 resources
 *   (4) deployer: N stacks previewed (or applied) at once over HTTP, N = 1/2/4/8,
 *       copies of `render`, or of `local` each applied to a fresh local cluster
 *       of its own; and the deployer's memory across many runs
 *   (5) apply: `up`, a no-change `up` and `destroy` of the local stack against
 *       a fresh local cluster vs `kubectl apply --server-side` of the same
 *       objects, 1/10/100 workspaces; the state backends; a profiled `up`
 *
 * Prints a table and writes it as JSON to bench-results/ (bench-<time>.json
 * and latest.json). Every figure is the median of several runs, with min and
 * max. Not part of `npm test`. Options:
 *
 *   --only mocks,preview,policy,deployer,apply   a subset (default: all)
 *   --quick                                smallest sizes, fewest runs (development)
 *   --runs <n>                             runs per mocks/policy figure (default 5)
 *   --engine-runs <n>                      runs per engine figure (default 3)
 *   --sizes 1,10,100,1000                  mocks sizes
 *   --preview-sizes 1,10,100               preview sizes
 *   --policy-workspaces 100,1000           sizes for the direct policy figure
 *   --policy-preview-workspaces 1,100      sizes for the preview with/without the pack
 *   --deployer-stacks 1,2,4,8              stacks previewed at once
 *   --deployer-operation preview|up        what the deployer runs on the render target (default preview)
 *   --deployer-target render|cluster       render copies (default), or copies of local, one fresh cluster each, applied (up)
 *   --deployer-soak <n>                    n more previews, the deployer's memory after each (default 0)
 *   --apply-sizes 1,10,100                 apply sizes (ours and the floor, file backend)
 *   --apply-backends file,postgres         state backends for ours (postgres: X1_TEST_POSTGRES_URL)
 *   --apply-backend-sizes 10,100           sizes for the backends other than file
 *   --apply-parallel <n>                   pulumi --parallel for ours (default: runOperation's)
 *   --apply-target cluster|render          render: no cluster, ours only on the render copy (backends, profiles)
 *   --apply-up-only                        ours' first up only (no second up or destroy): before/after of a change
 *   --apply-floor                          with --apply-up-only: the floor too, for ours/floor of up
 *   --apply-profile-size <n>               profile one more up at n workspaces (default with --profile: the largest)
 *   --profile                              also profile: mocks at the largest size and
 *                                          each preview, under node --cpu-prof
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import * as path from "node:path";
import { projectRoot } from "../runtime/engine/project";
import { pulumiCommand } from "../runtime/engine/stack-runner";
import { type ApplyBench, type Backend, backends, benchApply, formatUpProfile, type Phase } from "./apply";
import { benchDeployer, type DeployerResult, type DeployerTarget, deployerTargets, formatDeployer } from "./deployer";
import { benchMocks, type MocksResult, mocksSample } from "./mocks";
import { benchPolicyDirect, benchPolicyPreview, type PolicyDirect, type PolicyPreview } from "./policy";
import { benchPreview, type PreviewBench } from "./preview";
import { formatProfile, type ProfileSummary, summarizeProfile } from "./profile";
import { fmt, loadAverage, table } from "./stats";

const parts = ["mocks", "preview", "policy", "deployer", "apply"] as const;
type Part = (typeof parts)[number];

interface Options {
    only: Part[];
    runs: number;
    engineRuns: number;
    sizes: number[];
    previewSizes: number[];
    policyWorkspaces: number[];
    policyPreviewWorkspaces: number[];
    deployerStacks: number[];
    /** Unset: preview on the render target; the cluster target always applies (up). */
    deployerOperation?: "preview" | "up";
    deployerTarget: DeployerTarget;
    deployerSoak: number;
    applySizes: number[];
    applyBackends: Backend[];
    applyBackendSizes: number[];
    applyParallel?: number;
    applyUpOnly: boolean;
    applyFloor: boolean;
    applyTarget: "cluster" | "render";
    applyProfileSize?: number;
    profile: boolean;
}

const usage =
    "usage: npm run bench -- [--only mocks,preview,policy,deployer,apply] [--quick] [--runs n] [--engine-runs n] [--sizes a,b] [--preview-sizes a,b] [--policy-workspaces a,b] [--policy-preview-workspaces a,b] [--deployer-stacks a,b] [--deployer-operation preview|up] [--deployer-target render|cluster] [--deployer-soak n] [--apply-sizes a,b] [--apply-backends file,postgres] [--apply-backend-sizes a,b] [--apply-parallel n] [--apply-up-only] [--apply-floor] [--apply-target cluster|render] [--apply-profile-size n] [--profile]";

function parseArgs(argv: string[]): Options {
    const o: Options = {
        only: [...parts],
        runs: 5,
        engineRuns: 3,
        sizes: [1, 10, 100, 1000],
        previewSizes: [1, 10, 100],
        policyWorkspaces: [100, 1000],
        policyPreviewWorkspaces: [1, 100],
        deployerStacks: [1, 2, 4, 8],
        deployerTarget: "render",
        deployerSoak: 0,
        applySizes: [1, 10, 100],
        applyBackends: ["file", "postgres"],
        applyBackendSizes: [10, 100],
        applyUpOnly: false,
        applyFloor: false,
        applyTarget: "cluster",
        profile: false,
    };
    const list = (v: string, what: string) => {
        const xs = v.split(",").map(Number);
        if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${what} wants positive integers separated by commas, got '${v}'\n${usage}`);
        return xs;
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const value = () => {
            const v = argv[++i];
            if (v === undefined) throw new Error(`${a} needs a value\n${usage}`);
            return v;
        };
        if (a === "--only") {
            const want = value().split(",");
            const bad = want.filter((w) => !(parts as readonly string[]).includes(w));
            if (bad.length) throw new Error(`--only: unknown part ${bad.join(", ")}; parts are ${parts.join(", ")}`);
            o.only = want as Part[];
        } else if (a === "--quick") {
            Object.assign(o, {
                runs: 2,
                engineRuns: 1,
                sizes: [1, 10],
                previewSizes: [1],
                policyWorkspaces: [10],
                policyPreviewWorkspaces: [1],
                deployerStacks: [1, 2],
                applySizes: [1],
                applyBackendSizes: [1],
            });
        } else if (a === "--runs") o.runs = list(value(), a)[0]!;
        else if (a === "--engine-runs") o.engineRuns = list(value(), a)[0]!;
        else if (a === "--sizes") o.sizes = list(value(), a);
        else if (a === "--preview-sizes") o.previewSizes = list(value(), a);
        else if (a === "--policy-workspaces") o.policyWorkspaces = list(value(), a);
        else if (a === "--policy-preview-workspaces") o.policyPreviewWorkspaces = list(value(), a);
        else if (a === "--deployer-stacks") o.deployerStacks = list(value(), a);
        else if (a === "--deployer-operation") {
            const v = value();
            if (v !== "preview" && v !== "up") throw new Error(`--deployer-operation is preview or up, got '${v}'`);
            o.deployerOperation = v;
        } else if (a === "--deployer-target") {
            const v = value();
            if (!(deployerTargets as readonly string[]).includes(v)) throw new Error(`--deployer-target is ${deployerTargets.join(" or ")}, got '${v}'`);
            o.deployerTarget = v as DeployerTarget;
        } else if (a === "--deployer-soak") o.deployerSoak = list(value(), a)[0]!;
        else if (a === "--apply-sizes") o.applySizes = list(value(), a);
        else if (a === "--apply-backends") {
            const want = value().split(",");
            const bad = want.filter((w) => !(backends as readonly string[]).includes(w));
            if (bad.length) throw new Error(`--apply-backends: unknown backend ${bad.join(", ")}; backends are ${backends.join(", ")}`);
            o.applyBackends = want as Backend[];
        } else if (a === "--apply-backend-sizes") o.applyBackendSizes = list(value(), a);
        else if (a === "--apply-parallel") o.applyParallel = list(value(), a)[0]!;
        else if (a === "--apply-up-only") o.applyUpOnly = true;
        else if (a === "--apply-floor") o.applyFloor = true;
        else if (a === "--apply-target") {
            const v = value();
            if (v !== "cluster" && v !== "render") throw new Error(`--apply-target is cluster or render, got '${v}'`);
            o.applyTarget = v;
        } else if (a === "--apply-profile-size") o.applyProfileSize = list(value(), a)[0]!;
        else if (a === "--profile") o.profile = true;
        else throw new Error(`unknown option ${a}\n${usage}`);
    }
    if (o.deployerTarget === "cluster" && o.deployerOperation === "preview")
        throw new Error("--deployer-target cluster applies its stacks (up): --deployer-operation preview is for --deployer-target render");
    return o;
}

const log = (s: string) => console.log(s);
const ms = (s: Parameters<typeof fmt>[0]) => fmt(s, 0);

interface Results {
    startedAt: string;
    machine: { cpus: number; cpuModel: string; node: string; pulumi: string };
    loadAverage: { start: [number, number, number]; end?: [number, number, number] };
    options: Options;
    mocks?: MocksResult & { profile?: ProfileSummary };
    preview?: PreviewBench;
    policy?: { direct: PolicyDirect[]; preview?: PolicyPreview };
    deployer?: DeployerResult;
    apply?: ApplyBench;
}

/**
 * At most linear, with 10% for noise: wall time or CPU time per workspace
 * does not grow. Either suffices, since another process's load can inflate
 * one wall-clock median on this shared machine.
 */
function linear(g: NonNullable<MocksResult["growth"]>): boolean {
    return g.ratio <= 1.1 || g.cpuRatio <= 1.1;
}

function printMocks(r: MocksResult): void {
    console.log("\n(1) Program construction under mocks (fresh process per run; median (min–max))\n");
    console.log(
        table([
            ["workspaces", "resources", "wall ms", "CPU ms", "resources/s", "peak RSS MiB", "ms/workspace", "module load ms"],
            ...r.rows.map((x) => [
                String(x.workspaces),
                String(x.resources),
                ms(x.wallMs),
                ms(x.cpuMs),
                ms(x.resourcesPerSecond),
                ms(x.peakRssMiB),
                x.msPerWorkspace.toFixed(2),
                ms(x.importMs),
            ]),
        ]),
    );
    if (r.growth) {
        const verdict = linear(r.growth) ? "at most linear" : "SUPERLINEAR";
        console.log(
            `\ngrowth ${r.growth.from} -> ${r.growth.to} workspaces: time per workspace ratio ${r.growth.ratio.toFixed(2)}, CPU per workspace ratio ${r.growth.cpuRatio.toFixed(2)} (${verdict}; 1.00 = linear)`,
        );
        if (r.growth.marginalRatio !== undefined) {
            console.log(
                `cost of each added workspace, ${r.growth.from}..${r.growth.to} over the size below: ratio ${r.growth.marginalRatio.toFixed(2)} (the stack's fixed part taken out; 1.00 = linear)`,
            );
        }
    }
}

function printPreview(r: PreviewBench): void {
    console.log("\n(2) Real preview of the local stack vs the engine floor (same manifests as plain YAML; median (min–max))\n");
    console.log(
        table([
            [
                "workspaces",
                "resources ours/floor",
                "ours ms",
                "floor ms",
                "ours/floor",
                "CPU ours/floor ms",
                "CPU ratio",
                "first resource event ours/floor ms",
                "up ms (once)",
            ],
            ...r.rows.map((x) => [
                String(x.workspaces),
                `${x.ours.resources}/${x.floor.resources}`,
                ms(x.ours.wallMs),
                ms(x.floor.wallMs),
                x.ratio.toFixed(2),
                `${x.ours.cpuMs.median.toFixed(0)}/${x.floor.cpuMs.median.toFixed(0)}`,
                x.cpuRatio.toFixed(2),
                `${x.ours.firstResourceMs.median.toFixed(0)}/${x.floor.firstResourceMs.median.toFixed(0)}`,
                x.upMs.toFixed(0),
            ]),
        ]),
    );
    for (const p of r.profiles) {
        console.log(
            `\none preview at ${p.workspaces} workspaces under --cpu-prof: ${p.previewMs.toFixed(0)} ms wall, ${p.previewCpuMs.toFixed(0)} ms CPU in all processes, ` +
                `of which the program (node) ${p.program.busyMs.toFixed(0)} ms and the engine, language host and provider ${(p.previewCpuMs - p.program.busyMs).toFixed(0)} ms:\n${formatProfile(p.program)}`,
        );
    }
}

function printPolicy(r: NonNullable<Results["policy"]>): void {
    console.log("\n(3) Policy pack evaluation (median (min–max))\n");
    const violations = r.direct
        .filter((d) => Object.keys(d.violations).length > 0)
        .map(
            (d) =>
                `${d.workspaces} workspaces: ${Object.entries(d.violations)
                    .map(([p, n]) => `${p} ${n}`)
                    .join(", ")}`,
        );
    console.log(
        table([
            ["how", "workspaces", "resources", "total ms", "ms per 1000 resources", "slowest policies (ms)"],
            ...r.direct.map((d) => [
                "direct (validateResource/validateStack)",
                String(d.workspaces),
                String(d.resources),
                fmt(d.totalMs, 1),
                fmt(d.msPer1000, 1),
                d.slowest
                    .slice(0, 3)
                    .map((s) => `${s.policy} ${s.ms.toFixed(1)}`)
                    .join(", "),
            ]),
            ...(r.preview?.rows ?? []).map((p) => [
                "real preview with vs without the pack",
                String(p.workspaces),
                String(p.resources),
                `${ms(p.withMs)} vs ${ms(p.withoutMs)}`,
                `pack adds ${p.overheadMs.toFixed(0)} ms`,
                "",
            ]),
        ]),
    );
    if (r.preview?.marginalMsPer1000 !== undefined) {
        console.log(
            `\nreal preview: the pack adds ${r.preview.marginalMsPer1000.toFixed(0)} ms per 1000 more resources (beyond its fixed start-up of ${r.preview.rows[0]!.overheadMs.toFixed(0)} ms)`,
        );
    }
    if (violations.length) console.log(`violations under mocks' inputs (not a preview's): ${violations.join("; ")}`);
}

const sec = (p: Phase | undefined) => (p ? (p.wallMs / 1000).toFixed(1) : "-");

function printApply(r: ApplyBench): void {
    console.log(
        "\n(5) Apply to a fresh local cluster: ours (up, no-change up, destroy) vs kubectl apply --server-side of the same objects (one run each; s)\n",
    );
    console.log(
        table([
            [
                "workspaces",
                "resources / objects",
                "up ours/floor",
                "ratio",
                "up again ours/floor",
                "ratio",
                "destroy ours/delete",
                "ratio",
                "CPU up ours/floor s",
                "state MB",
                "load",
            ],
            ...r.rows.map((x) => [
                `${x.workspaces}${x.ours.profiled ? " (profiled)" : ""}`,
                `${x.ours.resources}/${x.floor ? x.floor.objects.crds + x.floor.objects.namespaces + x.floor.objects.rest : "-"}`,
                `${sec(x.ours.up)}/${x.floor ? sec(x.floor.apply) : "-"}`,
                x.ratio?.up.toFixed(2) ?? "-",
                `${x.ours.upAgain ? sec(x.ours.upAgain) : "-"}/${x.floor ? sec(x.floor.applyAgain) : "-"}`,
                x.ratio?.upAgain?.toFixed(2) ?? "-",
                `${x.ours.destroy ? sec(x.ours.destroy) : "-"}/${x.floor ? sec(x.floor.delete) : "-"}`,
                x.ratio?.destroy?.toFixed(2) ?? "-",
                `${(x.ours.up.cpuMs / 1000).toFixed(1)}/${x.floor ? (x.floor.apply.cpuMs / 1000).toFixed(1) : "-"}`,
                (x.ours.stateBytes / 1e6).toFixed(1),
                `${x.ours.up.load.toFixed(1)}..${x.floor ? x.floor.delete.load.toFixed(1) : "-"}`,
            ]),
        ]),
    );
    if (r.growth) {
        console.log(
            `\ngrowth of up ${r.growth.from} -> ${r.growth.to} workspaces: time per workspace ratio ${r.growth.ratio.toFixed(2)} (${r.growth.ratio <= 1.1 ? "at most linear" : "SUPERLINEAR"}; 1.00 = linear)` +
                (r.growth.marginalRatio !== undefined ? `; cost of each added workspace over the size below: ${r.growth.marginalRatio.toFixed(2)}` : ""),
        );
    }
    const largest = r.rows[r.rows.length - 1];
    if (largest) {
        const top = largest.ours.stateByType.slice(0, 8);
        console.log(
            `\nstate after up at ${largest.workspaces} workspaces: ${(largest.ours.stateBytes / 1e6).toFixed(1)} MB (each step rewrites it); largest parts: ` +
                top.map((t) => `${t.type.replace(/^kubernetes:/, "")} ${t.resources}x ${(t.bytes / 1e6).toFixed(2)} MB`).join(", "),
        );
    }
    if (r.backendRuns.length) {
        const file = new Map(r.rows.map((x) => [x.workspaces, x.ours]));
        console.log("\nstate backends (ours; s):\n");
        console.log(
            table([
                ["backend", "workspaces", "up", "up again", "destroy", "up vs file", "load"],
                ...r.backendRuns.map((b) => {
                    const f = file.get(b.workspaces);
                    return [
                        b.backend,
                        String(b.workspaces),
                        sec(b.up),
                        sec(b.upAgain),
                        sec(b.destroy),
                        f ? (b.up.wallMs / f.up.wallMs).toFixed(2) : "-",
                        b.up.load.toFixed(1),
                    ];
                }),
            ]),
        );
    }
    if (r.profile) console.log(`\n${formatUpProfile(r.profile)}`);
}

async function profileMocks(workspaces: number): Promise<ProfileSummary> {
    const dir = mkdtempSync(path.join(tmpdir(), "x1-bench-cpuprof-"));
    try {
        await mocksSample(workspaces, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
        const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
        if (!file) throw new Error(`no CPU profile in ${dir}`);
        return summarizeProfile(path.join(dir, file), 20);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

async function main(): Promise<void> {
    const options = parseArgs(process.argv.slice(2));
    const cmd = await pulumiCommand();
    const results: Results = {
        startedAt: new Date().toISOString(),
        machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, pulumi: cmd.version?.toString() ?? "unknown" },
        loadAverage: { start: loadAverage() },
        options,
    };
    const [l1] = results.loadAverage.start;
    console.log(`x1agent bench: ${results.machine.cpus} CPUs (${results.machine.cpuModel}), node ${results.machine.node}, pulumi ${results.machine.pulumi}`);
    console.log(
        `load average at start: ${results.loadAverage.start.join(" ")}${l1 >= 1 ? "  (busy machine: figures will be slower and noisier than on an idle one)" : ""}`,
    );

    const outDir = path.join(projectRoot, "bench-results");
    const file = path.join(outDir, `bench-${results.startedAt.replace(/[:.]/g, "-")}.json`);
    /** Writes what is measured so far: a part that fails late (the apply at 100 workspaces) keeps the earlier figures. */
    const save = () => {
        mkdirSync(outDir, { recursive: true });
        const json = `${JSON.stringify(results, null, 2)}\n`;
        writeFileSync(file, json);
        writeFileSync(path.join(outDir, "latest.json"), json);
    };

    if (options.only.includes("mocks")) {
        log("\nmeasuring (1) program construction under mocks ...");
        const r = await benchMocks(options.sizes, options.runs, log);
        results.mocks = r;
        if (options.profile) {
            const largest = Math.max(...options.sizes);
            results.mocks.profile = await profileMocks(largest);
            log(`  CPU profile of the mocks run at ${largest} workspaces:\n${formatProfile(results.mocks.profile)}`);
        }
        save();
    }
    if (options.only.includes("preview")) {
        log("\nmeasuring (2) real previews and the engine floor ...");
        results.preview = await benchPreview(options.previewSizes, options.engineRuns, options.profile, log);
        save();
    }
    if (options.only.includes("policy")) {
        log("\nmeasuring (3) policy pack evaluation ...");
        const direct: PolicyDirect[] = [];
        for (const n of options.policyWorkspaces) direct.push(await benchPolicyDirect(n, options.runs, log));
        const preview = await benchPolicyPreview(options.policyPreviewWorkspaces, options.engineRuns, log);
        results.policy = { direct, preview };
        save();
    }
    if (options.only.includes("deployer")) {
        log("\nmeasuring (4) deployer throughput ...");
        results.deployer = await benchDeployer(
            {
                counts: options.deployerStacks,
                runs: options.engineRuns,
                operation: options.deployerOperation ?? (options.deployerTarget === "cluster" ? "up" : "preview"),
                target: options.deployerTarget,
                soak: options.deployerSoak,
            },
            log,
        );
        save();
    }
    if (options.only.includes("apply")) {
        log("\nmeasuring (5) apply to a local cluster vs kubectl apply ...");
        results.apply = await benchApply(
            {
                sizes: options.applySizes,
                backends: options.applyBackends,
                backendSizes: options.applyBackendSizes,
                parallel: options.applyParallel,
                upOnly: options.applyUpOnly,
                floor: options.applyFloor,
                target: options.applyTarget,
                profileSize: options.applyProfileSize ?? (options.profile ? Math.max(...options.applySizes) : undefined),
            },
            log,
            (partial) => {
                results.apply = partial;
                save();
            },
        );
    }
    results.loadAverage.end = loadAverage();

    console.log(
        `\n=== x1agent bench, ${results.startedAt}; load average ${results.loadAverage.start.join(" ")} at start, ${results.loadAverage.end.join(" ")} at end ===`,
    );
    if (results.mocks) printMocks(results.mocks);
    if (results.preview) printPreview(results.preview);
    if (results.policy) printPolicy(results.policy);
    if (results.deployer) console.log(formatDeployer(results.deployer));
    if (results.apply) printApply(results.apply);

    save();
    console.log(`\nwrote ${path.relative(projectRoot, file)} and bench-results/latest.json`);
    if (results.mocks?.growth && !linear(results.mocks.growth)) {
        const g = results.mocks.growth;
        console.error(`growth check failed: time per workspace at ${g.to} is ${g.ratio.toFixed(2)}x (CPU ${g.cpuRatio.toFixed(2)}x) that at ${g.from}`);
        process.exitCode = 1;
    }
}

main().catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
});
