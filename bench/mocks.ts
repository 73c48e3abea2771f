/**
 * (1) Program construction under Pulumi mocks: each size in a fresh child
 * process (bench/mocks-child.ts), several runs, so wall time and peak
 * memory are that size's alone.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import type { MocksSample } from "./mocks-child";
import { type Summary, summarize } from "./stats";

const run = promisify(execFile);
const child = path.join(__dirname, "mocks-child.ts");

export interface MocksRow {
    workspaces: number;
    resources: number;
    customResources: number;
    wallMs: Summary;
    cpuMs: Summary;
    importMs: Summary;
    resourcesPerSecond: Summary;
    peakRssMiB: Summary;
    /** Wall time per workspace, ms (what the growth check compares). */
    msPerWorkspace: number;
}

export interface MocksResult {
    rows: MocksRow[];
    /**
     * ratio: (wall per workspace at the largest size) / (at the next size
     * down); at most 1 means at most linear. cpuRatio: the same in CPU time. marginalRatio: the same for the
     * cost of each added workspace (the fixed part of the stack taken out),
     * (wall(to) - wall(from)) / (to - from) over the same slope one size lower.
     */
    growth?: { from: number; to: number; ratio: number; cpuRatio: number; marginalRatio?: number };
}

/** One construction in a fresh process; `nodeArgs` e.g. --cpu-prof. */
export async function mocksSample(workspaces: number, nodeArgs: string[] = [], extra: string[] = []): Promise<MocksSample> {
    const { stdout } = await run(process.execPath, [...nodeArgs, "--import", "tsx", child, String(workspaces), ...extra], {
        cwd: path.resolve(__dirname, ".."),
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, NODE_OPTIONS: "--max-old-space-size=8192" },
    });
    const line = stdout.trim().split("\n").pop() ?? "";
    return JSON.parse(line) as MocksSample;
}

export async function benchMocks(sizes: number[], runs: number, log: (s: string) => void): Promise<MocksResult> {
    const rows: MocksRow[] = [];
    for (const n of sizes) {
        const samples: MocksSample[] = [];
        for (let i = 0; i < runs; i++) {
            const s = await mocksSample(n);
            log(
                `  mocks ${n} workspaces, run ${i + 1}/${runs}: ${s.wallMs.toFixed(0)} ms (CPU ${s.cpuMs.toFixed(0)} ms), ${s.resources} resources, ${s.peakRssMiB.toFixed(0)} MiB`,
            );
            samples.push(s);
        }
        const wall = summarize(samples.map((s) => s.wallMs));
        rows.push({
            workspaces: n,
            resources: samples[0]!.resources,
            customResources: samples[0]!.customResources,
            wallMs: wall,
            cpuMs: summarize(samples.map((s) => s.cpuMs)),
            importMs: summarize(samples.map((s) => s.importMs)),
            resourcesPerSecond: summarize(samples.map((s) => s.resources / (s.wallMs / 1000))),
            peakRssMiB: summarize(samples.map((s) => s.peakRssMiB)),
            msPerWorkspace: wall.median / Math.max(n, 1),
        });
    }
    const byN = new Map(rows.map((r) => [r.workspaces, r]));
    const to = Math.max(...sizes);
    const from = [...sizes].filter((n) => n < to).sort((a, b) => b - a)[0];
    const below = from === undefined ? undefined : [...sizes].filter((n) => n < from).sort((a, b) => b - a)[0];
    const wall = (n: number) => byN.get(n)!.wallMs.median;
    const slope = (a: number, b: number) => (wall(b) - wall(a)) / (b - a);
    const growth =
        from !== undefined && from > 0
            ? {
                  from,
                  to,
                  ratio: byN.get(to)!.msPerWorkspace / byN.get(from)!.msPerWorkspace,
                  cpuRatio: byN.get(to)!.cpuMs.median / to / (byN.get(from)!.cpuMs.median / from),
                  marginalRatio: below !== undefined ? slope(from, to) / slope(below, from) : undefined,
              }
            : undefined;
    return { rows, growth };
}
