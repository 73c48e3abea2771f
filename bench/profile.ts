/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function
 * and per source file, so "where the time goes" is a table, not a guess.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

interface CpuProfileNode {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
}

interface CpuProfile {
    nodes: CpuProfileNode[];
    startTime: number;
    endTime: number;
    samples: number[];
    timeDeltas: number[];
}

export interface Frame {
    /** `function (file:line)` */
    frame: string;
    selfMs: number;
    /** Share of the non-idle samples. */
    share: number;
}

export interface ProfileSummary {
    totalMs: number;
    /** Time not spent idle, in the garbage collector or in program code. */
    busyMs: number;
    gcMs: number;
    idleMs: number;
    topFrames: Frame[];
    /** Self time per package (node_modules/<pkg>) or per project folder. */
    byOrigin: Frame[];
}

const root = path.resolve(__dirname, "..");

/** Where a frame's code comes from: a package, a project folder, or node itself. */
function origin(url: string): string {
    if (!url) return "(native/V8)";
    const file = url.replace(/^file:\/\//, "");
    const nm = file.lastIndexOf("/node_modules/");
    if (nm >= 0) {
        const rest = file.slice(nm + "/node_modules/".length).split("/");
        return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
    }
    if (file.startsWith("node:")) return "node (core)";
    if (file.startsWith(root)) return `project: ${path.relative(root, file).split("/").slice(0, 2).join("/")}`;
    return file;
}

function short(url: string, line: number): string {
    const file = url.replace(/^file:\/\//, "");
    const nm = file.lastIndexOf("/node_modules/");
    const shown = nm >= 0 ? file.slice(nm + "/node_modules/".length) : file.startsWith(root) ? path.relative(root, file) : file;
    return shown ? `${shown}:${line + 1}` : "native";
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
    const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<number, number>();
    for (let i = 0; i < p.samples.length; i++) {
        const id = p.samples[i]!;
        selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
    }
    const frames = new Map<string, number>();
    const origins = new Map<string, number>();
    let idle = 0;
    let gc = 0;
    let total = 0;
    for (const [id, us] of selfUs) {
        const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
        total += us;
        if (functionName === "(idle)") {
            idle += us;
            continue;
        }
        if (functionName === "(garbage collector)") gc += us;
        const key = `${functionName || "(anonymous)"} (${short(url, lineNumber)})`;
        frames.set(key, (frames.get(key) ?? 0) + us);
        const o = functionName === "(garbage collector)" ? "(garbage collector)" : origin(url);
        origins.set(o, (origins.get(o) ?? 0) + us);
    }
    const busy = total - idle;
    const list = (m: Map<string, number>) =>
        [...m.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, top)
            .map(([frame, us]) => ({ frame, selfMs: us / 1000, share: busy > 0 ? us / busy : 0 }));
    return { totalMs: total / 1000, busyMs: busy / 1000, gcMs: gc / 1000, idleMs: idle / 1000, topFrames: list(frames), byOrigin: list(origins) };
}

/** The summary as text lines. */
export function formatProfile(s: ProfileSummary): string {
    const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
    return [
        `  total ${s.totalMs.toFixed(0)} ms: busy ${s.busyMs.toFixed(0)} ms (GC ${s.gcMs.toFixed(0)} ms), idle ${s.idleMs.toFixed(0)} ms`,
        "  self time by origin:",
        ...s.byOrigin.map((f) => `    ${pct(f.share)} ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.frame}`),
        "  top self-time frames:",
        ...s.topFrames.map((f) => `    ${pct(f.share)} ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.frame}`),
    ].join("\n");
}

if (require.main === module) {
    const file = process.argv[2];
    if (!file) {
        console.error("usage: tsx bench/profile.ts <file.cpuprofile> [top]");
        process.exit(2);
    }
    console.log(formatProfile(summarizeProfile(file, Number(process.argv[3] ?? 25))));
}
