/** Small statistics and printing helpers shared by the measurements. */
import { readFileSync } from "node:fs";

/** One figure over several runs. */
export interface Summary {
    median: number;
    min: number;
    max: number;
    runs: number;
}

export function summarize(values: number[]): Summary {
    if (values.length === 0) throw new Error("summarize: no values");
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: values.length };
}

/**
 * Least-squares slope of `values` over their position (0, 1, 2, ...): how much each step adds, on
 * average; about 0 when they level off. NaN for fewer than two values.
 */
export function slope(values: number[]): number {
    if (values.length < 2) return NaN;
    const mx = (values.length - 1) / 2;
    const my = values.reduce((a, b) => a + b, 0) / values.length;
    let num = 0;
    let den = 0;
    for (const [x, y] of values.entries()) {
        num += (x - mx) * (y - my);
        den += (x - mx) ** 2;
    }
    return num / den;
}

/** `median (min–max)` with a fixed number of decimals. */
export function fmt(s: Summary, decimals = 0, unit = ""): string {
    const f = (v: number) => v.toFixed(decimals);
    return s.runs === 1 ? `${f(s.median)}${unit}` : `${f(s.median)}${unit} (${f(s.min)}–${f(s.max)})`;
}

/** The 1-, 5- and 15-minute load averages. */
export function loadAverage(): [number, number, number] {
    const [a, b, c] = readFileSync("/proc/loadavg", "utf8").split(" ").map(Number);
    return [a ?? NaN, b ?? NaN, c ?? NaN];
}

/** A plain text table: the first row is the header. */
export function table(rows: string[][]): string {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
    const line = (r: string[]) =>
        r
            .map((c, i) => c.padEnd(widths[i]!))
            .join("  ")
            .trimEnd();
    return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU time (user + system, ms) of this process's children that have ended
 * and been waited for, with their own waited-for descendants: for an engine
 * run, the CLI, the language host, the program and the provider together.
 * CPU time barely moves with the machine's load, unlike wall time.
 */
export function childrenCpuMs(): number {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name (which may hold spaces) start at state (field 3).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cutime = Number(fields[13]);
    const cstime = Number(fields[14]);
    return ((cutime + cstime) * 1000) / clockTicksPerSecond;
}

/** USER_HZ: 100 on Linux for every architecture Node supports. */
const clockTicksPerSecond = 100;
