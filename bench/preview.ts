/**
 * (2) Real `preview` of the local stack with n workspaces through the engine
 * (the pulumi CLI, the Node.js language host running index.ts through tsx,
 * the Kubernetes provider rendering to a directory), against the engine
 * floor: the manifests an `up` of the same stack rendered, previewed as
 * plain YAML (k8s.yaml.v2.ConfigGroup in a plain JavaScript program,
 * bench/floor/index.js) through the same CLI and provider. Both preview
 * against empty state (every resource a create), on an isolated file
 * backend and render root in a temp folder, removed afterwards.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { type EngineEvent, LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { projectRoot } from "../runtime/engine/project";
import { openStack, pulumiCommand } from "../runtime/engine/stack-runner";
import { formatProfile, type ProfileSummary, summarizeProfile } from "./profile";
import { childrenCpuMs, type Summary, summarize } from "./stats";
import { writeBenchStack } from "./stack-config";

/** Passphrase of the temp bench stacks' secrets provider (they hold no secrets). */
export const benchPassphrase = "x1agent-bench";

export interface PreviewSample {
    /** stack.preview() from call to return. */
    wallMs: number;
    /** CPU time of the CLI, language host, program and provider together (robust to other processes' load). */
    cpuMs: number;
    /** From the call to the engine's first resource event: CLI start, plugins, program start-up. */
    firstResourceMs: number;
    /** Resources in the preview (all creates), the stack resource included. */
    resources: number;
}

export interface PreviewRow {
    workspaces: number;
    ours: { wallMs: Summary; cpuMs: Summary; firstResourceMs: Summary; resources: number };
    floor: { wallMs: Summary; cpuMs: Summary; firstResourceMs: Summary; resources: number };
    /** median(ours) / median(floor), wall time. */
    ratio: number;
    /** The one `up` that rendered the floor's manifests (file backend, render to a folder), ms. */
    upMs: number;
    /** The same for CPU time (CLI + language host + program + provider). */
    cpuRatio: number;
}

/** A temp state backend and render root for this process's engine runs. */
export function engineScratch(label: string): { dir: string; cleanup: () => void } {
    const dir = mkdtempSync(path.join(tmpdir(), `x1-bench-${label}-`));
    mkdirSync(path.join(dir, "state"));
    process.env.PULUMI_BACKEND_URL = `file://${path.join(dir, "state")}`;
    process.env.X1_RENDER_ROOT = path.join(dir, "rendered");
    process.env.PULUMI_CONFIG_PASSPHRASE = benchPassphrase;
    process.env.PULUMI_SKIP_UPDATE_CHECK = "true";
    return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Times one preview; `envVars` reach the CLI, the language host and the program. */
export async function timedPreview(stack: Stack, options: { policyPacks?: string[] } = {}): Promise<PreviewSample> {
    let firstResource: number | undefined;
    let resources = 0;
    const cpuBefore = childrenCpuMs();
    const started = performance.now();
    const onEvent = (e: EngineEvent) => {
        if (e.resourcePreEvent) {
            firstResource ??= performance.now();
            resources++;
        }
    };
    await stack.preview({ color: "never", onEvent, policyPacks: options.policyPacks });
    const wallMs = performance.now() - started;
    return { wallMs, cpuMs: childrenCpuMs() - cpuBefore, firstResourceMs: (firstResource ?? performance.now()) - started, resources };
}

/** The floor project: bench/floor/index.js in a temp folder that sees the project's node_modules. */
async function floorStack(scratch: string, n: number, manifests: string): Promise<Stack> {
    const dir = path.join(scratch, `floor-${n}`);
    mkdirSync(dir, { recursive: true });
    cpSync(path.join(__dirname, "floor", "index.js"), path.join(dir, "index.js"));
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "x1-bench-floor", private: true, main: "index.js" }));
    writeFileSync(path.join(dir, "Pulumi.yaml"), "name: x1-bench-floor\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n");
    symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"));
    return LocalWorkspace.createOrSelectStack(
        { stackName: `floor-${n}`, workDir: dir },
        {
            pulumiCommand: await pulumiCommand(),
            envVars: {
                PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL!,
                PULUMI_CONFIG_PASSPHRASE: benchPassphrase,
                PULUMI_SKIP_UPDATE_CHECK: "true",
                X1_BENCH_MANIFESTS: manifests,
                X1_BENCH_FLOOR_RENDER: path.join(scratch, `floor-rendered-${n}`),
            },
        },
    );
}

function countFiles(dir: string): number {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
}

export interface PreviewBench {
    rows: PreviewRow[];
    /** Where the program's own CPU time went in one extra preview per size (node --cpu-prof in the language host). */
    /** previewCpuMs: CLI + language host + program + provider; the program's share is program.busyMs. */
    profiles: { workspaces: number; previewMs: number; previewCpuMs: number; program: ProfileSummary }[];
}

/**
 * For each size: `runs` previews of ours and of the floor, interleaved (so
 * a change in machine load hits both alike); then, with `profile`, one more
 * preview of ours with the program under --cpu-prof.
 */
export async function benchPreview(sizes: number[], runs: number, profile: boolean, log: (s: string) => void): Promise<PreviewBench> {
    const scratch = engineScratch("preview");
    const rows: PreviewRow[] = [];
    const profiles: PreviewBench["profiles"] = [];
    try {
        for (const n of sizes) {
            const bench = writeBenchStack(n);
            try {
                const ours = await openStack(bench.name);
                // Render the manifests the floor replays: one `up` into a state of its own.
                const upStarted = performance.now();
                const manifests = await renderManifests(bench.name, scratch.dir, n);
                const upMs = performance.now() - upStarted;
                log(`  preview ${n} workspaces: up rendered ${countFiles(manifests)} manifests in ${upMs.toFixed(0)} ms; the floor replays them`);
                const floor = await floorStack(scratch.dir, n, manifests);
                const o: PreviewSample[] = [];
                const f: PreviewSample[] = [];
                for (let i = 0; i < runs; i++) {
                    o.push(await timedPreview(ours));
                    f.push(await timedPreview(floor));
                    log(
                        `  preview ${n} workspaces, run ${i + 1}/${runs}: ours ${o[i]!.wallMs.toFixed(0)} ms (CPU ${o[i]!.cpuMs.toFixed(0)} ms, ${o[i]!.resources} resources), ` +
                            `floor ${f[i]!.wallMs.toFixed(0)} ms (CPU ${f[i]!.cpuMs.toFixed(0)} ms, ${f[i]!.resources} resources)`,
                    );
                }
                const ow = summarize(o.map((s) => s.wallMs));
                const fw = summarize(f.map((s) => s.wallMs));
                const oc = summarize(o.map((s) => s.cpuMs));
                const fc = summarize(f.map((s) => s.cpuMs));
                rows.push({
                    workspaces: n,
                    ours: { wallMs: ow, cpuMs: oc, firstResourceMs: summarize(o.map((s) => s.firstResourceMs)), resources: o[0]!.resources },
                    floor: { wallMs: fw, cpuMs: fc, firstResourceMs: summarize(f.map((s) => s.firstResourceMs)), resources: f[0]!.resources },
                    ratio: ow.median / fw.median,
                    cpuRatio: oc.median / fc.median,
                    upMs,
                });
                if (profile) {
                    const p = await profiledPreview(bench.name, scratch.dir, n);
                    profiles.push({ workspaces: n, ...p });
                    log(
                        `  preview ${n} workspaces under --cpu-prof: ${p.previewMs.toFixed(0)} ms, CPU ${p.previewCpuMs.toFixed(0)} ms of which the program ${p.program.busyMs.toFixed(0)} ms\n${formatProfile(p.program)}`,
                    );
                }
            } finally {
                bench.remove();
            }
        }
    } finally {
        scratch.cleanup();
    }
    return { rows, profiles };
}

/** `up` of the bench stack in a state backend of its own; returns the folder its manifests were rendered to. */
async function renderManifests(stackName: string, scratch: string, n: number): Promise<string> {
    const backend = process.env.PULUMI_BACKEND_URL;
    const renderRoot = process.env.X1_RENDER_ROOT;
    const state = path.join(scratch, `up-state-${n}`);
    mkdirSync(state, { recursive: true });
    process.env.PULUMI_BACKEND_URL = `file://${state}`;
    process.env.X1_RENDER_ROOT = path.join(scratch, `up-rendered-${n}`);
    try {
        const stack = await openStack(stackName);
        await stack.up({ color: "never" });
        return path.join(process.env.X1_RENDER_ROOT, stackName);
    } finally {
        process.env.PULUMI_BACKEND_URL = backend;
        process.env.X1_RENDER_ROOT = renderRoot;
    }
}

/** One preview with the program (the language host's node) under --cpu-prof. */
async function profiledPreview(stackName: string, scratch: string, n: number): Promise<{ previewMs: number; previewCpuMs: number; program: ProfileSummary }> {
    const dir = path.join(scratch, `cpu-prof-${n}`);
    mkdirSync(dir, { recursive: true });
    const stack = await openStack(stackName);
    const ws = stack.workspace as LocalWorkspace;
    // envVars reach every CLI command of this workspace, and through them the language host and the program.
    ws.envVars.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${dir}`;
    let s: PreviewSample;
    try {
        s = await timedPreview(stack);
    } finally {
        delete ws.envVars.NODE_OPTIONS;
    }
    const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
    if (files.length === 0) throw new Error(`no CPU profile was written to ${dir}: did NODE_OPTIONS reach the program?`);
    // The biggest profile is the program's (the language host may start node for short helper runs too).
    const biggest = files.map((f) => ({ f, s: summarizeProfile(path.join(dir, f)) })).sort((a, b) => b.s.totalMs - a.s.totalMs)[0]!;
    return { previewMs: s.wallMs, previewCpuMs: s.cpuMs, program: biggest.s };
}
